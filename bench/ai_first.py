"""AI-first routing on real preference data: human answers saved, and accuracy kept.

    .venv/bin/python bench/ai_first.py [--cases judges,strong] [--round 100] [--limit 999]

``../shared/data/preference/pandalm``: 999 pairs, each with the verdicts of three people and of two
model judges. One person (the third) is held out as the reference; every policy draws on the other
two. *All-human*: both answer every pair (overlap 2), consensus by majority vote. *AI-first*: the
models' verdicts are pre-labels (a ``prelabel`` job per model through the real OpenAI-compatible
client, over real HTTP, against a deterministic endpoint that replays the recorded verdicts); then,
in rounds, routing (:func:`assay.services.ai_first.route`) estimates trust from the people's answers
so far, settles the pairs the trusted models agree on (less a 10 % audit share), and the two people
answer the next ``--round`` pairs of their queue (most uncertain first), until every pair is
settled or answered. No policy sees the held-out person's verdicts.

Cases: ``judges`` (the two model judges, gpt-3.5-turbo and pandalm-7b, who agree with the people's
majority about 67-69 % of the time) and ``strong`` (the first available person replayed as a
"model", who agrees with the others about 96 % of the time). One JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.rlhf.fake_llm import FakeLLM  # noqa: E402

from assay.services import (  # noqa: E402
    accounts,  # noqa: E402
    ai_first,
    consensus,
    dispatch,
    imports,
    jobs,
    projects,
)
from assay.services.actors import SYSTEM, Actor, actor_from_row  # noqa: E402
from assay.store import accounts as acc  # noqa: E402
from assay.store.engine import Store, open_store  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "preference" / "pandalm"
if not DATA.exists():
    DATA = Path("/work/shared/data/preference/pandalm")
CHOICE = {0: "tie", 1: "a", 2: "b"}
PAIR = re.compile(r"pair (\d+)\b")


def load(limit: int) -> list[dict[str, Any]]:
    with open(DATA / "pairs.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f][:limit]


def schema(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "fields": [
            {"name": "pair", "type": "text"},
            {"name": "instruction", "type": "text"},
            {"name": "candidates", "type": "comparison"},
        ],
        "questions": [{"name": "preference", "type": "preference", "field": "candidates", "ties": True}],
        "workflow": {"overlap": 2, "ai_first": {"audit_rate": 0.1}},
    }


def rows(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{p['idx']}",
            "pair": f"pair {p['idx']}",
            "instruction": (p["instruction"] + "\n" + (p.get("input") or "")).strip(),
            "candidates": [
                {"id": "a", "text": str(p["response1"])},
                {"id": "b", "text": str(p["response2"])},
            ],
        }
        for p in pairs
    ]


def person(store: Store, name: str) -> Actor:
    new = accounts.add_user(store, SYSTEM, name, role="annotator", cost_per_item=0.2)
    with store.read() as conn:
        row = acc.get_user(conn, new.id)
    assert row is not None
    return actor_from_row(row)


def answer_round(
    store: Store, pid: int, people: list[tuple[Actor, int]], verdicts: dict[str, list[int]], n: int
) -> int:
    """Each person answers up to ``n`` pairs of its queue; the answers given."""
    given = 0
    for actor, k in people:
        for _ in range(n):
            lease = dispatch.next_assignment(store, actor, pid)
            if lease is None:
                break
            ext = "p" + PAIR.search(lease["record"]["fields"]["pair"]).group(1)  # type: ignore[union-attr]
            value = {"choice": CHOICE[verdicts[ext][k]]}
            dispatch.submit_response(store, actor, lease["assignment_id"], {"preference": value})
            given += 1
    return given


def decisions(store: Store, pid: int) -> dict[str, str]:
    """Each pair's settled choice: the models' consensus, else the people's (majority vote)."""
    consensus.recompute_project(store, SYSTEM, pid, "mv")
    with store.read() as conn:
        q = conn.exec_driver_sql(
            "SELECT r.external_id, c.value FROM consensus c JOIN records r ON r.id = c.record_id"
            f" WHERE c.project_id = {int(pid)} AND c.question = 'preference'"
        )
        out = {}
        for ext, value in q:
            v = json.loads(value) if isinstance(value, str) else value
            out[ext] = v["choice"] if isinstance(v, dict) else str(v)
    return out


def accuracy(decided: dict[str, str], reference: dict[str, str]) -> float:
    return sum(decided.get(k) == v for k, v in reference.items()) / len(reference)


def run_case(case: str, pairs: list[dict[str, Any]], round_size: int, home: Path) -> dict[str, Any]:
    store = open_store(f"sqlite:///{home / (case + '.db')}")
    verdicts = {f"p{p['idx']}": p["human"] for p in pairs}
    reference = {f"p{p['idx']}": CHOICE[p["human"][2]] for p in pairs}  # held out

    # all-human: both available people answer every pair
    allh = projects.create_project(store, SYSTEM, schema(f"{case}-all-human"))
    imports.import_rows(store, SYSTEM, allh["id"], enumerate(rows(pairs), 1))
    people = [(person(store, f"{case}-h0"), 0), (person(store, f"{case}-h1"), 1)]
    all_answers = answer_round(store, allh["id"], people, verdicts, len(pairs))
    acc_all = accuracy(decisions(store, allh["id"]), reference)

    # AI-first: the models pre-label through a real HTTP endpoint, then route and people alternate
    if case == "judges":
        models = {
            m: {f"p{p['idx']}": p["judges"].get(m) for p in pairs} for m in ("gpt-3.5-turbo", "pandalm-7b")
        }
    else:  # the first available person, replayed as a model
        models = {"strong-person": {f"p{p['idx']}": p["human"][0] for p in pairs}}
    llm = FakeLLM().start()

    def replay(model: str, prompt: str) -> str | None:
        m = PAIR.search(prompt)
        if m is None or model not in models:
            return None
        verdict = models[model].get(f"p{m.group(1)}")
        return "no verdict" if verdict is None else json.dumps({"preference": {"choice": CHOICE[verdict]}})

    llm.answerer = replay
    aif = projects.create_project(store, SYSTEM, schema(f"{case}-ai-first"))
    imports.import_rows(store, SYSTEM, aif["id"], enumerate(rows(pairs), 1))
    t0 = time.perf_counter()
    for model in models:
        spec = {
            "type": "openai",
            "model": model,
            "base_url": llm.base_url,
            "max_concurrency": 8,
            "max_retries": 0,
        }
        job = jobs.enqueue(
            store, SYSTEM, aif["id"], "prelabel", {"connector": spec, "batch": 100}, submit=False
        )
        jobs.run_job(store, job["id"])
    prelabel_s = time.perf_counter() - t0
    llm.stop()
    people = [(person(store, f"{case}-a0"), 0), (person(store, f"{case}-a1"), 1)]
    human = 0
    rounds = 0
    while True:
        ai_first.route(store, SYSTEM, aif["id"])
        given = answer_round(store, aif["id"], people, verdicts, round_size)
        rounds += 1
        human += given
        if given == 0:
            break
    report = ai_first.savings(store, SYSTEM, aif["id"])
    acc_ai = accuracy(decisions(store, aif["id"]), reference)
    store.dispose()
    return {
        "case": case,
        "human_answers_all_human": all_answers,
        "human_answers_ai_first": human,
        "accuracy_all_human": round(acc_all, 4),
        "accuracy_ai_first": round(acc_ai, 4),
        "saved_share": round(1 - human / all_answers, 4),
        "settled_by_models": report["settled_by_models"],
        "settled_by_both": report["settled_by_both"],
        "rounds": rounds,
        "prelabel_seconds": round(prelabel_s, 2),
        "trusted": ai_first.trust(
            open_store(f"sqlite:///{home / (case + '.db')}", migrate=False), SYSTEM, aif["id"]
        )["models"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="judges,strong")
    ap.add_argument("--round", type=int, default=100, help="pairs each person answers between two routings")
    ap.add_argument("--limit", type=int, default=999)
    args = ap.parse_args()
    pairs = load(args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            out = run_case(case, pairs, args.round, Path(tmp))
            out["trusted"] = [f"{r['model']}={r['answer']}" for r in out["trusted"] if r["trusted"]]
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
