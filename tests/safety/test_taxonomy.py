"""The safety taxonomy as project configuration: the shipped default, validation that names the
field, and attack rows checked against it."""

from __future__ import annotations

from typing import Any

import pytest

from assay.domain.errors import ValidationError
from assay.domain.safety import SafetyConfig, parse_attack
from assay.domain.schema import ProjectSchema
from assay.services import safety

BASE: dict[str, Any] = {
    "name": "x",
    "fields": [{"name": "prompt", "type": "text"}],
    "questions": [{"name": "q", "type": "text"}],
}


def _tax() -> dict[str, Any]:
    return {
        "categories": [{"id": "vcr", "name": "Violent crimes", "definition": "helps violence"}],
        "tactics": [{"id": "direct", "name": "Direct", "definition": "asks plainly"}],
        "severities": [{"id": "low", "name": "Low", "definition": "little"}],
    }


def test_the_default_taxonomy_has_the_ailuminate_categories_and_cites_its_source() -> None:
    tax = safety.default_taxonomy()
    ids = [c["id"] for c in tax["categories"]]
    assert ids == ["vcr", "src", "cse", "ssh", "iwp", "ipv", "dfm", "ncr", "hte", "prv", "spc", "sxc"]
    assert "AILuminate" in tax["source"] and "2503.05731" in tax["source"]
    assert all(c["definition"] and c["examples"] for c in tax["categories"])
    assert any(t["multi_turn"] for t in tax["tactics"]) and {"role_play", "obfuscation"} <= {
        t["id"] for t in tax["tactics"]
    }
    assert [s["id"] for s in tax["severities"]] == ["low", "moderate", "high", "severe"]
    # a campaign's schemas validate as any project schema does
    for schema in (safety.attack_schema("a", tax), safety.grading_schema("a-grading", tax)):
        assert ProjectSchema.from_dict(schema).safety is not None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda t: t["categories"][0].pop("definition"), "safety.categories[0].definition", "missing"),
        (lambda t: t["categories"][0].update(id="Bad Id"), "safety.categories[0].id", "not an id"),
        (lambda t: t["categories"].append(dict(t["categories"][0])), "safety.categories[1].id", "twice"),
        (lambda t: t["categories"][0].update(id="none"), "safety.categories[0].id", "no harm"),
        (lambda t: t.update(tactics=[]), "safety.tactics", "at least 1"),
        (lambda t: t["severities"][0].update(colour="red"), "safety.severities[0].colour", "unknown key"),
        (lambda t: t.update(success_severity="huge"), "safety.success_severity", "not a severity"),
        (lambda t: t["tactics"][0].update(definition="  "), "safety.tactics[0].definition", "empty"),
    ],
)
def test_a_bad_taxonomy_names_the_field(change: Any, field: str, words: str) -> None:
    tax = _tax()
    change(tax)
    with pytest.raises(ValidationError) as err:
        ProjectSchema.from_dict({**BASE, "safety": tax})
    assert err.value.field == field and words in err.value.message


def test_a_taxonomy_file_error_names_the_file_and_line() -> None:
    with pytest.raises(ValidationError) as err:
        safety.load_taxonomy("categories: [\n  {id: a\n", file="tax.yaml")
    assert err.value.file == "tax.yaml" and err.value.line is not None
    with pytest.raises(ValidationError) as err:
        safety.load_taxonomy("categories: []\ntactics: []\nseverities: []\n", file="tax.yaml")
    assert err.value.file == "tax.yaml" and err.value.field == "categories"


def test_attack_rows_are_checked_against_the_taxonomy() -> None:
    cfg = SafetyConfig.from_dict(_tax())
    a = parse_attack({"id": "a1", "turns": ["hi", {"role": "user", "content": "now"}], "category": "vcr",
                      "tactic": "direct"}, cfg)  # fmt: skip
    assert a.turns == ["hi", "now"] and a.fields()["followups"] == [{"role": "user", "content": "now"}]
    assert a.metadata() == {"category": "vcr", "tactic": "direct", "benign": False}
    for row, field in [
        ({"prompt": "x", "category": "zzz", "tactic": "direct"}, "category"),
        ({"prompt": "x", "category": "vcr", "tactic": "zzz"}, "tactic"),
        ({"prompt": " ", "category": "vcr", "tactic": "direct"}, "prompt"),
        ({"turns": ["a", ""], "category": "vcr", "tactic": "direct"}, "turns[1]"),
        (
            {"turns": [{"role": "assistant", "content": "a"}], "category": "vcr", "tactic": "direct"},
            "turns[0].role",
        ),
        ({"prompt": "x", "category": "vcr", "tactic": "direct", "benign": "yes"}, "benign"),
        ({"prompt": "x", "category": "vcr", "tactic": "direct", "colour": 1}, "colour"),
    ]:
        with pytest.raises(ValidationError) as err:
            parse_attack(row, cfg)
        assert err.value.field == field, row
