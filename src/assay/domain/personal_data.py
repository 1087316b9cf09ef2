"""Personal data in text: find e-mail addresses, phone numbers, payment card numbers, IBANs and
people's names, and mask them.

The detectors, and what each one relies on:

* ``email``: a regular expression for ``local@domain.tld`` (the address's common form; quoted
  local parts and IP-literal domains are not looked for).
* ``phone``: Google's libphonenumber (the ``phonenumbers`` package): a number counts when it is
  *valid* for its region (length and prefixes), written with a ``+`` country code or as a
  national number of one of the policy's ``phone_regions``.
* ``card``: 13 to 19 digits that start like a card (2 to 6), written as one run or in the
  groups cards print (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4; spaces or dashes), and pass the Luhn
  check (``python-stdnum``).
* ``iban``: a country code, two check digits and the account, spaced or not, whose length fits
  the country and whose mod-97 checksum holds (``python-stdnum``).
* ``name``: a gazetteer, not a model: a known first name followed by a known last name (both
  capitalised, an initial may stand between), a capitalised word after an honorific (Mr, Ms, Dr
  …), or a known first name after a greeting or sign-off (Dear, Hi, Thanks, Regards …). The name
  lists are the ones the ``faker`` package ships for its locales (about 30,000 first and 28,000
  last names). It misses names it does not list, names written in lower case and names alone
  in a sentence ("ask Smith"), and it takes a listed first and last name pair that is not a
  person ("Paris Hilton" is, "Jordan Lane" may not be). No statistical NER model is used: the
  ones that would do better (spaCy's, which Presidio needs) are downloaded from outside the
  package registry, which this project's machines cannot reach.

Offsets are Unicode code points (Python string indices), like every text offset in assay.
A :class:`Detector` is built once per policy and reused; it holds no state between texts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "KINDS",
    "PLACEHOLDERS",
    "Detector",
    "Finding",
    "Privacy",
    "mask",
]

Kind = Literal["email", "phone", "card", "iban", "name"]
KINDS: Final[tuple[Kind, ...]] = ("email", "phone", "card", "iban", "name")
PLACEHOLDERS: Final[dict[str, str]] = {k: f"[{k.upper()}]" for k in KINDS}
# When two findings overlap, the earlier kind here wins: an e-mail address holds a name, an IBAN
# or a card number holds digits that libphonenumber may take for a phone number.
_PRIORITY: Final[dict[str, int]] = {k: i for i, k in enumerate(("email", "iban", "card", "phone", "name"))}


class Privacy(BaseModel):
    """A project's personal-data policy: what to look for on import, where, and what to do.

    ``personal_data``: ``allow`` keeps the text and records what was found; ``mask`` replaces each
    finding with a placeholder (``[EMAIL]``, ``[PHONE]`` …) before the record is stored and records
    it; ``refuse`` fails the import at the first finding (naming line, field and kind), keeping
    nothing of it. ``fields`` default to every text, markdown and chat field of the schema (a
    chat: each message's content).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    personal_data: Literal["allow", "mask", "refuse"] = "allow"
    detect: list[Kind] = Field(default_factory=lambda: list(KINDS), min_length=1)
    fields: list[str] | None = None
    phone_regions: list[str] = Field(default_factory=lambda: ["US"])

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        import phonenumbers

        out = [r.upper() for r in v]
        unknown = [r for r in out if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown region {unknown[0]!r}; use ISO 3166 codes such as US, GB, DE")
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: its kind and where it is (code points, end exclusive)."""

    kind: str
    start: int
    end: int


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
_CARD = re.compile(r"(?<![\w+-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d])")
# How cards are printed when their digits are grouped: 4-4-4-4 (most), 4-4-4-4-3 (19 digits),
# 4-6-5 (American Express) and 4-6-4 (Diners Club).
_CARD_GROUPS: Final = frozenset({(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4)})
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_DIGITS7 = re.compile(r"\d(?:\D{0,3}\d){6}")
# Where a phone number may stand: libphonenumber's matcher runs on these stretches only (it is
# slow on long text); a number must hold at least 7 digits.
_PHONE_CANDIDATE = re.compile(r"(?:\+|\(|\b)\d[\d ().\-/]{5,24}\d(?:\s*(?:ext\.?|x|#)\s*\d{1,6})?")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_HONORIFICS: Final = frozenset({"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Madam", "Mme", "Mlle"})
_GREETINGS: Final = frozenset(
    {"Dear", "Hi", "Hello", "Hey", "Thanks", "Thank", "Regards", "Cheers", "Sincerely", "Best", "Yours"}
)


def _card_shaped(s: str) -> bool:
    return tuple(len(g) for g in re.split(r"[ -]", s.strip())) in _CARD_GROUPS


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


@functools.cache
def _name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """First and last names of every locale the ``faker`` package ships (read once per process)."""
    import importlib
    import pkgutil

    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for mod in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{mod.name}").Provider
        for attr, into in (
            ("first_names", first),
            ("first_names_male", first),
            ("first_names_female", first),
            ("last_names", last),
        ):
            names: Any = provider.__dict__.get(attr)
            if isinstance(names, tuple | list | dict | set | frozenset):
                into.update(n for n in names if isinstance(n, str) and n[:1].isupper() and " " not in n)
    return frozenset(first), frozenset(last)


def _capitalised(word: str) -> bool:
    return word[0].isupper() and not word.isupper()


class Detector:
    """Finds personal data of the given ``kinds`` in text (see the module docstring)."""

    def __init__(self, kinds: Iterable[str] = KINDS, *, phone_regions: Sequence[str] = ("US",)) -> None:
        self.kinds = frozenset(kinds)
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kind {sorted(unknown)[0]!r}; kinds are {', '.join(KINDS)}")
        self.phone_regions = tuple(phone_regions)
        if "name" in self.kinds:
            self._first, self._last = _name_lists()

    def find(self, text: str) -> list[Finding]:
        """Every finding in ``text``, in order, none overlapping another."""
        found: list[Finding] = []
        kinds = self.kinds
        if "email" in kinds and "@" in text:
            found += [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
        has_digits = _DIGITS7.search(text) is not None
        if has_digits:
            # digits inside what is written like an IBAN (valid or not) are no card or phone
            shaped = [(m.start(), m.end()) for m in _IBAN.finditer(text)]
            numbers: list[Finding] = []
            if "card" in kinds:
                numbers += self._cards(text)
            if "phone" in kinds:
                numbers += self._phones(text)
            found += [f for f in numbers if not any(s <= f.start and f.end <= e for s, e in shaped)]
            if "iban" in kinds:
                found += self._ibans(text)
        if "name" in kinds:
            found += self._names(text)
        return _without_overlaps(found)

    @staticmethod
    def _ibans(text: str) -> list[Finding]:
        from stdnum import iban

        return [Finding("iban", m.start(), m.end()) for m in _IBAN.finditer(text) if iban.is_valid(m.group())]

    @staticmethod
    def _cards(text: str) -> list[Finding]:
        from stdnum import luhn

        out = []
        for m in _CARD.finditer(text):
            digits = _digits(m.group())
            groups = tuple(len(g) for g in re.split(r"[ -]", m.group()))
            if len(groups) > 1 and groups not in _CARD_GROUPS:
                continue
            if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
                out.append(Finding("card", m.start(), m.end()))
        return out

    def _phones(self, text: str) -> list[Finding]:
        import phonenumbers

        out: dict[tuple[int, int], Finding] = {}
        valid = phonenumbers.Leniency.VALID
        for c in _PHONE_CANDIDATE.finditer(text):
            number = c.group()
            digits = sum(ch.isdigit() for ch in number)
            plus = number.lstrip("(").startswith("+")
            # a run of digits grouped as cards print is a card number (valid or not), not a phone;
            # one unbroken run longer than E.164's 15 digits is an id
            if digits < 7 or _card_shaped(number) or (digits > 15 and number.isdigit()):
                continue
            # one number at most (E.164: 15 digits with +, 12 here without): parse it first, as that
            # is cheaper than the matcher; a longer stretch may hold two (a date and a number)
            one = digits <= (15 if plus else 12)
            # a little context either side: the matcher looks at the characters around a number
            lo, hi = max(c.start() - 8, 0), min(c.end() + 8, len(text))
            piece = text[lo:hi]
            # a number written with + and its country code reads the same from any region
            for region in self.phone_regions[:1] if plus else self.phone_regions:
                if one:
                    try:
                        if not phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
                            continue
                    except phonenumbers.NumberParseException:
                        continue
                for m in phonenumbers.PhoneNumberMatcher(piece, region, leniency=valid):
                    if sum(ch.isdigit() for ch in m.raw_string) < 7:
                        continue
                    out.setdefault((lo + m.start, lo + m.end), Finding("phone", lo + m.start, lo + m.end))
        return list(out.values())

    def _names(self, text: str) -> list[Finding]:
        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        first, last = self._first, self._last
        out: list[Finding] = []
        i = 0
        n = len(words)
        while i < n:
            s, e, w = words[i]
            if not _capitalised(w):
                i += 1
                continue
            nxt = words[i + 1] if i + 1 < n else None
            joined = nxt is not None and text[e : nxt[0]].isspace()
            # An honorific (with or without its dot) and the capitalised word(s) after it.
            if (
                w in _HONORIFICS
                and nxt is not None
                and _capitalised(nxt[2])
                and text[e : nxt[0]].strip() in ("", ".")
            ):
                j = i + 1
                end = nxt[1]
                if (
                    j + 1 < n
                    and _capitalised(words[j + 1][2])
                    and text[words[j][1] : words[j + 1][0]].isspace()
                ):
                    j += 1
                    end = words[j][1]
                out.append(Finding("name", nxt[0], end))
                i = j + 1
                continue
            if (
                w in _GREETINGS
                and nxt is not None
                and nxt[2] in first
                and text[e : nxt[0]].strip() in ("", ",")
            ):
                end = nxt[1]
                j = i + 1
                if j + 1 < n and words[j + 1][2] in last and text[words[j][1] : words[j + 1][0]].isspace():
                    j += 1
                    end = words[j][1]
                out.append(Finding("name", nxt[0], end))
                i = j + 1
                continue
            if w in first and joined and nxt is not None:
                # First Last, or First I. Last
                if nxt[2] in last and _capitalised(nxt[2]):
                    out.append(Finding("name", s, nxt[1]))
                    i += 2
                    continue
                if len(nxt[2]) == 1 and nxt[2].isupper() and i + 2 < n:
                    after = words[i + 2]
                    if text[nxt[1] : after[0]] in (". ", " ") and after[2] in last:
                        out.append(Finding("name", s, after[1]))
                        i += 3
                        continue
            i += 1
        return out


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    if len(found) < 2:
        return found
    found.sort(key=lambda f: (_PRIORITY[f.kind], f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for f in found:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: f.start)
    return kept


def mask(text: str, findings: Sequence[Finding]) -> tuple[str, list[Finding]]:
    """``text`` with each finding replaced by its placeholder (``[EMAIL]`` …), and the findings
    at their placeholders' places in the new text."""
    if not findings:
        return text, []
    parts: list[str] = []
    moved: list[Finding] = []
    pos = 0
    length = 0
    for f in findings:
        parts.append(text[pos : f.start])
        length += f.start - pos
        placeholder = PLACEHOLDERS[f.kind]
        parts.append(placeholder)
        moved.append(Finding(f.kind, length, length + len(placeholder)))
        length += len(placeholder)
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), moved
