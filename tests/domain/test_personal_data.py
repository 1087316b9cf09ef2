"""The personal-data detectors on known cases: what each finds, where, and what it leaves."""

from __future__ import annotations

import pytest

from assay.domain.personal_data import KINDS, Detector, Finding, mask


def _found(text: str, **kw: object) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in Detector(**kw).find(text)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+x@mail.example.co.uk today", [("email", "jane.doe+x@mail.example.co.uk")]),
        ("call (415) 555-2671 now", [("phone", "(415) 555-2671")]),
        ("abroad: +44 20 7946 0958.", [("phone", "+44 20 7946 0958")]),
        ("on 2026-11-05 (415) 555-2671 rang", [("phone", "(415) 555-2671")]),
        ("id 1234567890123456789012 only", []),
        ("card 4111 1111 1111 1111 ok", [("card", "4111 1111 1111 1111")]),
        ("card 4111-1111-1111-1112 fails Luhn", []),
        ("IBAN DE89 3704 0044 0532 0130 00 please", [("iban", "DE89 3704 0044 0532 0130 00")]),
        ("IBAN GB82WEST12345698765432", [("iban", "GB82WEST12345698765432")]),
        ("IBAN DE89 3704 0044 0532 0130 01 (bad checksum)", []),
        ("Will Smith signed", [("name", "Will Smith")]),
        ("Ask Dr. Kowalski about it", [("name", "Kowalski")]),
        ("Thanks, Maria", [("name", "Maria")]),
        ("John F. Kennedy spoke", [("name", "John F. Kennedy")]),
        ("May I ask about order 1234567? Best regards", []),
        ("the weather in Paris is nice", []),
    ],
)
def test_detectors_on_known_cases(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected


def test_national_numbers_need_their_region() -> None:
    text = "ring 020 7946 0958"
    assert _found(text) == []
    assert _found(text, phone_regions=["US", "GB"]) == [("phone", "020 7946 0958")]


def test_only_the_kinds_asked_for() -> None:
    text = "Will Smith, will@example.com, 4111 1111 1111 1111"
    assert [k for k, _ in _found(text, kinds=["email"])] == ["email"]
    assert {k for k, _ in _found(text)} == {"name", "email", "card"}
    with pytest.raises(ValueError, match="unknown kind 'ssn'"):
        Detector(["ssn"])


def test_overlaps_keep_the_stronger_kind() -> None:
    # an e-mail address holding a name is one e-mail finding
    assert _found("mail John.Smith@example.com") == [("email", "John.Smith@example.com")]


def test_mask_replaces_and_moves_the_spans_to_the_placeholders() -> None:
    text = "Hi Maria, call (415) 555-2671."
    found = Detector().find(text)
    masked, moved = mask(text, found)
    assert masked == "Hi [NAME], call [PHONE]."
    assert [(f.kind, masked[f.start : f.end]) for f in moved] == [("name", "[NAME]"), ("phone", "[PHONE]")]
    assert mask("nothing here", []) == ("nothing here", [])
    assert Finding("email", 0, 1).kind in KINDS
