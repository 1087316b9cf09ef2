"""Names: what the OpenAPI's pattern says is what clean_name does."""

from __future__ import annotations

import re
import unicodedata

import pytest

from assay.domain.errors import ValidationError
from assay.domain.text import NAME_PATTERN, clean_name


def _accepted(name: str) -> bool:
    try:
        clean_name(name)
    except ValidationError:
        return False
    return True


def test_the_name_pattern_is_clean_names_rule_for_every_assigned_character_of_the_bmp() -> None:
    pattern = re.compile(NAME_PATTERN)
    differ = []
    for cp in range(0x10000):
        c = chr(cp)
        if unicodedata.category(c) in ("Cn", "Cs"):  # (left to clean_name, which refuses them)
            continue
        name = f"a{c}b"
        if (pattern.fullmatch(name) is not None) != _accepted(name):
            differ.append(f"U+{cp:04X}")
    assert differ == []


@pytest.mark.parametrize("name", ["ann", " a ", "ａｎｎ", "new\u00a0 user", "ﬁnance", "Zoë"])
def test_names_both_take(name: str) -> None:
    assert re.fullmatch(NAME_PATTERN, name) and _accepted(name)


@pytest.mark.parametrize("name", ["", "   ", "\u00a0", "ann\u200b", "\u202eann", "a\tb", "\u3164", "a\x00"])
def test_names_both_refuse(name: str) -> None:
    assert not re.fullmatch(NAME_PATTERN, name) and not _accepted(name)
