"""Personal-data detection: precision and recall on planted cases, and throughput.

    .venv/bin/python bench/pii.py [--records 20000] [--seed 7]

*Planted cases*: ``--records`` short texts built from templates with a fixed seed. About half hold
one or two planted items (an e-mail address, a US or international phone number, a card number
that passes Luhn, an IBAN with a right checksum, a person's name), each with its known span; every
text also holds look-alikes that are not personal data (order numbers, dates and times, prices,
16-digit numbers failing Luhn, IBANs with a wrong checksum, capitalised places, products and
title-case words). Names come from a hand-written list of 60 people's names of many origins
(not drawn from the detector's own lists), some of which the gazetteer does not hold.

A finding counts as right (a true positive) when it overlaps a planted item of the same kind;
a finding that overlaps none is a false positive; a planted item no finding of its kind overlaps
is missed. Phones are planted only where libphonenumber calls the number valid, so the phone
figures measure finding numbers in text, not libphonenumber's own rules.

*Throughput*: ``Detector.find`` over every text's field (records/s, one process), and the same
records imported into a fresh SQLite project (``import_rows``) without a privacy policy and with
``personal_data: mask`` (records/s; one run each, on a shared machine). Printed as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assay.domain.personal_data import KINDS, Detector  # noqa: E402

NAMES = [
    "Maria Garcia",
    "James Wilson",
    "Aisha Bello",
    "Chen Wei",
    "Olga Petrova",
    "Lars Andersen",
    "Fatima Zahra",
    "Giulia Rossi",
    "Pierre Dubois",
    "Hannah Schmidt",
    "Kofi Mensah",
    "Priya Sharma",
    "Mateo Fernandez",
    "Sofia Costa",
    "Jan Kowalski",
    "Emma Johansson",
    "Liam O'Brien",
    "Yuki Tanaka",
    "Ahmed Hassan",
    "Anna Nowak",
    "David Cohen",
    "Sarah Miller",
    "Carlos Mendoza",
    "Ines Silva",
    "Thomas Muller",
    "Laura Martin",
    "Mikhail Ivanov",
    "Elena Popescu",
    "Noah Williams",
    "Zeynep Yilmaz",
    "Chidi Okonkwo",
    "Siobhan Kelly",
    "Nguyen Van An",
    "Tariq Rahman",
    "Ingrid Berg",
    "Pablo Ruiz",
    "Amara Nwosu",
    "Kenji Watanabe",
    "Lucia Moreno",
    "Oskar Lindqvist",
    "Ravi Patel",
    "Grace Lee",
    "Daniel Kim",
    "Mia Fischer",
    "Jonas Weber",
    "Chloe Bernard",
    "Ivan Horvat",
    "Nadia Haddad",
    "Sven Nilsson",
    "Leila Karimi",
    "Marek Novak",
    "Julia Wagner",
    "Samuel Adeyemi",
    "Rosa Jimenez",
    "Tomasz Wojcik",
    "Alice Moreau",
    "Arjun Reddy",
    "Eva Horak",
    "Bruno Santos",
    "Hugo Lambert",
]
GREETINGS = ["Hi {}", "Dear {}", "Thanks, {}", "Regards, {}"]
FILLERS = [
    "The order {order} was shipped on {date} at {time} and cost {price}.",
    "We visited Paris and Berlin last May; the Grand Hotel was lovely.",
    "Version {ver} of the App Store build fixed the Login Screen crash.",
    "Please check ticket #{order} before Monday, the Support Team said.",
    "Reference {bad_card} was not accepted by the terminal.",
    "The account {bad_iban} does not exist.",
    "Call Center hours are 9 to 5, Pacific Time, from Tuesday to Friday.",
    "Amazon Prime Video and Apple Music both renewed for {price} each.",
    "Invoice {order}-{short} is due on {date}.",
    "Box 7 of 12 weighed {short} kg at the New York warehouse.",
]
PHONE_REGIONS = ["US", "GB", "DE", "FR"]


def _luhn_complete(prefix: str, length: int, rnd: random.Random) -> str:
    from stdnum import luhn

    body = prefix + "".join(str(rnd.randrange(10)) for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def _card(rnd: random.Random) -> str:
    kind = rnd.choice(["visa", "mc", "amex"])
    if kind == "amex":
        d = _luhn_complete(rnd.choice(["34", "37"]), 15, rnd)
        return f"{d[:4]} {d[4:10]} {d[10:]}" if rnd.random() < 0.6 else d
    d = _luhn_complete("4" if kind == "visa" else rnd.choice(["51", "53", "55"]), 16, rnd)
    sep = rnd.choice([" ", "-", ""])
    return sep.join(d[i : i + 4] for i in range(0, 16, 4))


def _bad_card(rnd: random.Random) -> str:
    from stdnum import luhn

    while True:
        d = "4" + "".join(str(rnd.randrange(10)) for _ in range(15))
        if not luhn.is_valid(d):
            return " ".join(d[i : i + 4] for i in range(0, 16, 4))


# (Spain's and France's IBANs carry national check digits too, which stdnum checks: not planted.)
_IBAN_SHAPES = {"DE": "18n", "GB": "4a14n", "NL": "4a10n", "AT": "16n", "PL": "24n"}


def _iban(rnd: random.Random, *, valid: bool = True) -> str:
    from stdnum import iban

    country = rnd.choice(list(_IBAN_SHAPES))
    shape = _IBAN_SHAPES[country]
    if "a" in shape:  # letters (a bank code) then digits
        letters, digits = shape[:-1].split("a")
        bban = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(int(letters)))
        bban += "".join(str(rnd.randrange(10)) for _ in range(int(digits)))
    else:
        bban = "".join(str(rnd.randrange(10)) for _ in range(int(shape[:-1])))
    check = iban.calc_check_digits(country + "00" + bban)
    if not valid:
        check = f"{(int(check) + rnd.randrange(1, 90)) % 97 + 2:02d}"
    number = country + check + bban
    if not valid and iban.is_valid(number):
        return _iban(rnd, valid=False)
    if rnd.random() < 0.6:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def _phone(rnd: random.Random) -> tuple[str, str]:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F

    while True:
        region = rnd.choice(PHONE_REGIONS)
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if region == "US":
            example = phonenumbers.parse(
                f"+1 {rnd.choice([212, 312, 415, 617, 646, 718])}555{rnd.randrange(10**4):04d}"
            )
            example = phonenumbers.parse(
                f"+1 {rnd.choice([212, 312, 415, 617, 646])}{rnd.randrange(200, 999)}{rnd.randrange(10**4):04d}"
            )
        else:
            national = str(example.national_number)
            tail = "".join(str(rnd.randrange(10)) for _ in range(3))
            example = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail}")
        if not phonenumbers.is_valid_number(example):
            continue
        if region == "US":
            fmt = rnd.choice([F.NATIONAL, F.INTERNATIONAL, F.E164])
        else:
            fmt = rnd.choice([F.INTERNATIONAL, F.E164])
        return phonenumbers.format_number(example, fmt), region


def _email(rnd: random.Random) -> str:
    first, last = rnd.choice(NAMES).lower().replace("'", "").split(" ", 1)
    user = rnd.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rnd.randrange(100)}"]).replace(
        " ", ""
    )
    return f"{user}@{rnd.choice(['example.com', 'mail.example.org', 'corp.example.co.uk'])}"


def _filler(rnd: random.Random) -> str:
    return rnd.choice(FILLERS).format(
        order=rnd.randrange(10**6, 10**9),
        date=f"2026-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
        time=f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}",
        price=f"${rnd.randrange(5, 999)}.{rnd.randrange(100):02d}",
        ver=f"{rnd.randrange(1, 20)}.{rnd.randrange(10)}.{rnd.randrange(10)}",
        short=rnd.randrange(10, 999),
        bad_card=_bad_card(rnd),
        bad_iban=_iban(rnd, valid=False),
    )


def planted(n: int, seed: int) -> list[tuple[str, list[tuple[str, int, int]]]]:
    """``n`` texts with their planted items ``(kind, start, end)``."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[str] = [_filler(rnd)]
        items: list[tuple[str, int, int]] = []
        if rnd.random() < 0.5:
            for _ in range(rnd.choice([1, 1, 2])):
                kind = rnd.choice(KINDS)
                if kind == "email":
                    value, lead = _email(rnd), "Write to {} today."
                elif kind == "phone":
                    value, lead = _phone(rnd)[0], rnd.choice(["Call me on {} please.", "My number: {}."])
                elif kind == "card":
                    value, lead = _card(rnd), "Card {} was charged."
                elif kind == "iban":
                    value, lead = _iban(rnd), "Send it to {} by Friday."
                else:
                    value = rnd.choice(NAMES)
                    lead = rnd.choice(
                        ["{} will join the call.", "I spoke to {} yesterday.", *[g + "," for g in GREETINGS]]
                    )
                    if lead.startswith(("Hi", "Dear", "Thanks", "Regards")):
                        value = value.split(" ")[0]  # a greeting takes the first name
                sentence = lead.format(value)
                start = sum(len(p) + 1 for p in parts) + sentence.index(value)
                parts.append(sentence)
                items.append((kind, start, start + len(value)))
            parts.append(_filler(rnd))
        text = " ".join(parts)
        assert all(e <= len(text) for _kind, _s, e in items)
        out.append((text, items))
    return out


def score(
    detector: Detector, cases: list[tuple[str, list[tuple[str, int, int]]]]
) -> dict[str, dict[str, Any]]:
    tally = {k: {"tp": 0, "fp": 0, "fn": 0} for k in KINDS}
    false_positives: dict[str, list[str]] = {k: [] for k in KINDS}
    missed: dict[str, list[str]] = {k: [] for k in KINDS}
    for text, items in cases:
        found = detector.find(text)
        hit = [False] * len(items)
        for f in found:
            match = [i for i, (k, s, e) in enumerate(items) if k == f.kind and f.start < e and s < f.end]
            if match:
                for i in match:
                    hit[i] = True
                tally[f.kind]["tp"] += 1
            else:
                tally[f.kind]["fp"] += 1
                if len(false_positives[f.kind]) < 5:
                    false_positives[f.kind].append(text[f.start : f.end])
        for (k, s, e), h in zip(items, hit, strict=True):
            if not h:
                tally[k]["fn"] += 1
                if len(missed[k]) < 5:
                    missed[k].append(text[s:e])
    out: dict[str, dict[str, Any]] = {}
    for k, t in tally.items():
        tp, fp, fn = t["tp"], t["fp"], t["fn"]
        out[k] = {
            "planted": tp + fn if fn or tp else 0,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            **t,
            "false_positive_examples": false_positives[k],
            "missed_examples": missed[k],
        }
    return out


def throughput(detector: Detector, texts: list[str]) -> dict[str, int]:
    """Records/s by the wall clock and per CPU second of this process (the machine is shared)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for t in texts:
        detector.find(t)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"records_per_s": round(len(texts) / wall), "records_per_cpu_s": round(len(texts) / cpu)}


def import_rate(texts: list[str], policy: str | None) -> dict[str, int]:
    from assay.services import imports, projects
    from assay.services.actors import SYSTEM
    from assay.store.engine import open_store

    schema: dict[str, Any] = {
        "name": f"pii-{policy or 'none'}",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
    }
    if policy:
        schema["privacy"] = {"personal_data": policy, "phone_regions": PHONE_REGIONS}
    with tempfile.TemporaryDirectory() as d:
        store = open_store(f"sqlite:///{d}/pii.db")
        p = projects.create_project(store, SYSTEM, schema)
        rows = ((i, {"id": f"r{i}", "text": t}) for i, t in enumerate(texts, 1))
        t0, c0 = time.perf_counter(), time.process_time()
        imports.import_rows(store, SYSTEM, p["id"], rows)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        store.dispose()
    return {"records_per_s": round(len(texts) / wall), "records_per_cpu_s": round(len(texts) / cpu)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    cases = planted(args.records, args.seed)
    texts = [t for t, _ in cases]
    t0 = time.perf_counter()
    detector = Detector(phone_regions=PHONE_REGIONS)
    detector.find("warm up: Maria Garcia")
    load = time.perf_counter() - t0
    print(json.dumps({"measure": "name lists loaded", "seconds": round(load, 2)}), flush=True)
    for kind, figures in score(detector, cases).items():
        print(json.dumps({"measure": "planted", "kind": kind} | figures, ensure_ascii=False), flush=True)
    print(json.dumps({
        "measure": "detect",
        "records": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts)),
    } | throughput(detector, texts)), flush=True)  # fmt: skip
    for kinds in (["email", "card", "iban"], ["phone"], ["name"]):
        print(json.dumps({
            "measure": "detect", "kinds": kinds,
        } | throughput(Detector(kinds, phone_regions=PHONE_REGIONS), texts)), flush=True)  # fmt: skip
    for policy in (None, "mask"):
        rate = import_rate(texts, policy)
        print(json.dumps({"measure": "import", "policy": policy or "none"} | rate), flush=True)


if __name__ == "__main__":
    main()
