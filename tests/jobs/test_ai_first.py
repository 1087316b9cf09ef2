"""AI-first routing on both databases: trust estimated from gold and people with planted good and bad
models, the audit share, re-estimation when people contradict a model, the people's queue ordered by
uncertainty, hidden suggestions, and the savings report's arithmetic."""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.services import ai_first, dispatch, imports, jobs
from assay.services.actors import SYSTEM, Actor
from assay.store.engine import Store
from assay.store.tables import consensus, events, records
from tests.factories import make_project, make_user

LABELS = ["positive", "negative"]


def _schema(gold_rate: float = 0.0, **ai: Any) -> dict[str, Any]:
    return {
        "name": f"ai-{random.random()}",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "sentiment", "type": "label", "options": LABELS}],
        "workflow": {
            "overlap": 2,
            "gold_rate": gold_rate,
            "ai_first": {"bar": 0.85, "min_evidence": 10, "confidence": 0.9, "audit_rate": 0.2, **ai},
        },
    }


def truth(i: int) -> str:
    return LABELS[i % 2]


def _project(
    store: Store,
    n: int,
    gold: int,
    models: dict[str, Any],
    *,
    suggested: range | None = None,
    gold_rate: float = 0.0,
    **ai: Any,
) -> dict[str, Any]:
    """``n`` records, the first ``gold`` of them gold; each model answers ``f(i)`` on every record."""
    p = make_project(store, _schema(gold_rate, **ai))
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"id": f"r{i}", "text": f"text {i}"}
        if i < gold:
            row["gold"] = {"sentiment": truth(i)}
        if suggested is None or i in suggested or i < gold:
            row["suggestions"] = [
                {"question": "sentiment", "value": f(i), "score": 0.9, "model": m} for m, f in models.items()
            ]
        rows.append(row)
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return p


def _ids(store: Store, pid: int) -> dict[str, int]:
    with store.read() as conn:
        q = sa.select(records.c.external_id, records.c.id).where(records.c.project_id == pid)
        return {r[0]: int(r[1]) for r in conn.execute(q)}


def _settled(store: Store, pid: int) -> dict[int, Any]:
    with store.read() as conn:
        q = sa.select(consensus.c.record_id, consensus.c.value).where(
            consensus.c.project_id == pid, consensus.c.method == "ai_first"
        )
        return {int(r[0]): r[1] for r in conn.execute(q)}


def good(i: int) -> str:
    return truth(i)


def bad(i: int) -> str:  # right on 6 records in 10
    return truth(i) if i % 10 < 6 else LABELS[(i + 1) % 2]


def test_a_good_model_settles_all_but_the_audit_share_and_settles_them_right(store: Store) -> None:
    p = _project(store, 120, 40, {"good": good})
    summary = ai_first.route(store, SYSTEM, p["id"])
    ids = _ids(store, p["id"])
    ordinary = [ids[f"r{i}"] for i in range(40, 120)]
    audited = [rid for rid in ordinary if ai_first.is_audited(p["id"], rid, 0.2)]
    assert 5 <= len(audited) <= 30  # about a fifth
    settled = _settled(store, p["id"])
    assert sorted(settled) == sorted(set(ordinary) - set(audited))
    assert summary["settled"] == len(settled) and summary["audited"] == len(audited)
    truth_of = {ids[f"r{i}"]: truth(i) for i in range(120)}
    assert all(v == truth_of[rid] for rid, v in settled.items())
    with store.read() as conn:
        status = dict(conn.execute(sa.select(records.c.id, records.c.status)).all())
        acts = [r[0] for r in conn.execute(sa.select(events.c.action).where(events.c.project_id == p["id"]))]
    assert all(status[rid] == "done" for rid in settled) and all(status[rid] == "open" for rid in audited)
    assert acts.count(ev.RECORD_SETTLED_BY_MODELS) == len(settled)
    assert acts.count(ev.RECORD_AUDITED) == len(audited) and ev.TRUST_ESTIMATED in acts
    table = ai_first.trust(store, SYSTEM, p["id"])
    assert {(r["answer"], r["trusted"]) for r in table["models"]} == {("positive", True), ("negative", True)}
    # the audited records go to people; a rerun settles nothing twice and audits them once
    again = ai_first.route(store, SYSTEM, p["id"])
    assert again["settled"] == 0
    with store.read() as conn:
        n = conn.execute(
            sa.select(sa.func.count()).where(
                events.c.action == ev.RECORD_AUDITED, events.c.project_id == p["id"]
            )
        ).scalar()
    assert n == len(audited)
    ann, _ = make_user(store, "ann-good")
    leased = dispatch.next_assignment(store, ann, p["id"])
    assert leased is not None and leased["record"]["id"] in set(audited) | {ids[f"r{i}"] for i in range(40)}


def test_a_bad_model_settles_nothing_and_the_queue_is_ordered_by_uncertainty(store: Store) -> None:
    p = _project(store, 80, 40, {"bad": bad})
    summary = ai_first.route(store, SYSTEM, p["id"])
    assert summary["settled"] == 0 and summary["trusted"] == []
    assert _settled(store, p["id"]) == {}
    with store.read() as conn:
        prio = conn.execute(
            sa.select(sa.func.min(records.c.priority)).where(
                records.c.project_id == p["id"], ~records.c.is_gold
            )
        ).scalar()
    assert prio > 0  # every ordinary record's models are unsure: priority = uncertainty × 1000


def test_a_jury_settles_where_it_agrees_and_a_member_is_trusted(store: Store) -> None:
    p = _project(store, 100, 40, {"good": good, "bad": bad})
    ai_first.route(store, SYSTEM, p["id"])
    ids = _ids(store, p["id"])
    settled = _settled(store, p["id"])
    for i in range(40, 100):
        rid = ids[f"r{i}"]
        agree = good(i) == bad(i)
        if not agree:
            assert rid not in settled  # disagreement goes to people
        elif not ai_first.is_audited(p["id"], rid, 0.2):
            assert settled.get(rid) == truth(i)
    with store.read() as conn:
        prio = dict(conn.execute(sa.select(records.c.id, records.c.priority)).all())
    split = [prio[ids[f"r{i}"]] for i in range(40, 100) if good(i) != bad(i)]
    assert min(split) >= 495  # a split jury: uncertainty at least a half (× 990, + 0..9)


def test_trust_is_estimated_anew_and_a_model_people_contradict_stops_settling(store: Store) -> None:
    """Right on gold, wrong elsewhere: the audit share exposes it, and it settles nothing more."""
    liar = {"liar": lambda i: truth(i) if i < 30 else LABELS[(i + 1) % 2]}
    p = _project(store, 200, 30, liar, suggested=range(0, 80), audit_rate=0.5)
    first = ai_first.route(store, SYSTEM, p["id"])
    assert first["settled"] > 0 and first["audited"] > 0
    people = [make_user(store, f"person-{k}")[0] for k in range(2)]
    ids = _ids(store, p["id"])
    truth_of = {rid: truth(int(ext[1:])) for ext, rid in ids.items()}
    answered = _answer_all(store, people, p["id"], truth_of)
    assert answered >= 2 * first["audited"]
    # the models now answer the other records too
    with store.tx() as conn:
        from assay.store.jobs import insert_suggestions

        insert_suggestions(
            conn,
            [
                {
                    "record_id": ids[f"r{i}"],
                    "question": "sentiment",
                    "value": liar["liar"](i),
                    "model": "liar",
                }
                for i in range(80, 200)
            ],
        )
    second = ai_first.route(store, SYSTEM, p["id"])
    assert second["settled"] == 0 and second["trusted"] == []
    report = ai_first.savings(store, SYSTEM, p["id"])
    assert report["settled_by_models"] == first["settled"]


def _answer_all(store: Store, people: list[Actor], pid: int, truth_of: dict[int, str]) -> int:
    n = 0
    for person in people:
        while (lease := dispatch.next_assignment(store, person, pid)) is not None:
            rid = lease["record"]["id"]
            dispatch.submit_response(store, person, lease["assignment_id"], {"sentiment": truth_of[rid]})
            n += 1
    return n


def test_the_savings_report_counts_right(store: Store) -> None:
    p = _project(
        store, 60, 20, {"good": good}, gold_rate=0.5, bar=0.8
    )  # 10 right per answer: lower bound 0.81
    assert ai_first.route(store, SYSTEM, p["id"])["settled"] > 0
    ids = _ids(store, p["id"])
    ordinary = [ids[f"r{i}"] for i in range(20, 60)]
    audited = {rid for rid in ordinary if ai_first.is_audited(p["id"], rid, 0.2)}
    truth_of = {rid: truth(int(ext[1:])) for ext, rid in ids.items()}
    people = [make_user(store, f"p{k}", cost_per_item=0.5)[0] for k in range(2)]
    _answer_all(store, people, p["id"], truth_of)
    r = ai_first.savings(store, SYSTEM, p["id"])
    assert r["records"] == 40 and r["overlap"] == 2
    assert r["settled_by_models"] == 40 - len(audited)
    assert r["settled_by_both"] == len(audited) and r["settled_by_people"] == 0 and r["open"] == 0
    assert r["human_answers"] == 2 * len(audited)  # gold answers are not counted: both plans spend them
    assert r["human_answers_all_human"] == 80
    assert r["human_answers_to_come"] == 0 and r["human_answers_saved"] == 80 - 2 * len(audited)
    assert r["saved_share"] == pytest.approx((80 - 2 * len(audited)) / 80)
    assert r["accuracy_on_gold"]["models"] == 1.0 and r["accuracy_on_gold"]["models_gold_records"] == 20
    assert r["accuracy_on_gold"]["people"] == 1.0 and r["accuracy_on_gold"]["people_gold_records"] > 0
    assert r["human_cost"] == pytest.approx(0.5 * 2 * len(audited))
    assert r["human_cost_all_human"] == pytest.approx(0.5 * 80)
    assert r["model_cost"] == 0


def test_hidden_suggestions_and_the_route_job(store: Store) -> None:
    p = _project(store, 30, 10, {"good": good}, suggestions="hidden", min_evidence=50)
    ann, _ = make_user(store, "ann-hidden")
    lease = dispatch.next_assignment(store, ann, p["id"])
    assert lease is not None and lease["record"]["suggestions"] == []
    dispatch.release_assignment(store, ann, lease["assignment_id"])
    job = jobs.enqueue(store, SYSTEM, p["id"], "route", submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    got = jobs.get_job(store, SYSTEM, job["id"])
    assert got["result"]["settled"] == 0  # 10 gold answers are too little evidence for min_evidence 50
    plain = make_project(store, {**_schema(), "workflow": {"overlap": 1}})
    with pytest.raises(ValidationError):
        jobs.enqueue(store, SYSTEM, plain["id"], "route", submit=False)
    with pytest.raises(ValidationError):
        ai_first.route(store, SYSTEM, plain["id"])


def test_the_lower_bound_of_precision() -> None:
    from assay.quality.trust import precision_lower_bound

    lo = precision_lower_bound([10, 0, 5], [10, 0, 10], 0.9)
    assert lo[0] == pytest.approx(0.1 ** (1 / 11))  # Beta(11, 1): P(p < x) = x^11
    assert lo[1] == 0.0 and 0.2 < lo[2] < 0.5
    with pytest.raises(ValueError):
        precision_lower_bound([3], [2])


def test_a_rule_grader_is_a_contributor_like_any_other(store: Store) -> None:
    """A verifiable reward (a regular expression) pre-labels, earns trust on gold, and settles."""
    p = make_project(store, _schema())
    rows = [
        {
            "id": f"r{i}",
            "text": f"{'great' if i % 2 == 0 else 'awful'} {i}",
            **({"gold": {"sentiment": truth(i)}} if i < 40 else {}),
        }
        for i in range(100)
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    grader = {
        "type": "rules",
        "name": "regex-grader",
        "rules": [
            {"question": "sentiment", "field": "text", "pattern": r"^great\b", "value": "positive"},
            {"question": "sentiment", "field": "text", "pattern": r"^awful\b", "value": "negative"},
        ],
    }
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": grader}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    summary = ai_first.route(store, SYSTEM, p["id"])
    assert set(summary["trusted"]) == {"regex-grader:sentiment=positive", "regex-grader:sentiment=negative"}
    ids = _ids(store, p["id"])
    audited = {ids[f"r{i}"] for i in range(40, 100) if ai_first.is_audited(p["id"], ids[f"r{i}"], 0.2)}
    assert summary["settled"] == 60 - len(audited)


def test_with_min_score_a_model_is_judged_on_its_confident_answers(store: Store) -> None:
    """Right whenever it is sure (score 0.95), a coin toss otherwise (0.6): untrusted as a whole,
    trusted, and settling only its sure answers, with min_score 0.9."""
    rng = random.Random(3)
    rows_of = []
    for i in range(160):
        sure = (i // 2) % 2 == 0  # both labels have sure and unsure records
        rows_of.append((sure, truth(i) if sure else rng.choice(LABELS)))

    def make(**ai: Any) -> dict[str, Any]:
        p = make_project(store, _schema(**ai))
        rows = [
            {
                "id": f"r{i}",
                "text": f"t{i}",
                "suggestions": [
                    {"question": "sentiment", "value": v, "score": 0.95 if sure else 0.6, "model": "m"}
                ],
                **({"gold": {"sentiment": truth(i)}} if i < 100 else {}),
            }
            for i, (sure, v) in enumerate(rows_of)
        ]
        imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
        return p

    plain = make()
    assert ai_first.route(store, SYSTEM, plain["id"])["settled"] == 0
    picky = make(min_score=0.9)
    summary = ai_first.route(store, SYSTEM, picky["id"])
    assert summary["settled"] > 0
    ids = _ids(store, picky["id"])
    settled = _settled(store, picky["id"])
    assert all(rows_of[int(ext[1:])][0] for ext, rid in ids.items() if rid in settled)  # only sure ones
    assert all(v == truth(int(ext[1:])) for ext, rid in ids.items() if (v := settled.get(rid)) is not None)


def test_routing_is_queued_again_once_people_gave_enough_answers(store: Store) -> None:
    p = _project(store, 60, 20, {"bad": bad}, reroute_after=4)
    assert ai_first.queue_due_routes(store, submit=False) == []  # no answer of people yet
    ai_first.route(store, SYSTEM, p["id"])
    person, _ = make_user(store, "busy-person")
    ids = _ids(store, p["id"])
    truth_of = {rid: truth(int(ext[1:])) for ext, rid in ids.items()}
    for _ in range(3):
        lease = dispatch.next_assignment(store, person, p["id"])
        assert lease is not None
        dispatch.submit_response(
            store, person, lease["assignment_id"], {"sentiment": truth_of[lease["record"]["id"]]}
        )
    assert ai_first.queue_due_routes(store, submit=False) == []  # 3 < 4
    lease = dispatch.next_assignment(store, person, p["id"])
    assert lease is not None
    dispatch.submit_response(store, person, lease["assignment_id"], {"sentiment": "positive"})
    queued = ai_first.queue_due_routes(store, submit=False)
    assert len(queued) == 1 and jobs.get_job(store, SYSTEM, queued[0])["kind"] == "route"
    assert ai_first.queue_due_routes(store, submit=False) == []  # one is queued already
    assert jobs.run_job(store, queued[0]) == "succeeded"
    assert ai_first.queue_due_routes(store, submit=False) == []  # routed since those answers


def _clustered(store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, **ai: Any) -> dict[str, Any]:
    """Two tight clusters of records in the embedding space of a trained local model (hashed words):
    36 records `a…` about one thing, 4 records `b…` about another; four gold records train it."""
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    schema = _schema(**ai)
    schema["workflow"]["overlap"] = 1
    p = make_project(store, schema)
    words = {"a": "alpha beta gamma delta epsilon", "b": "zebra yak xylophone walrus vulture"}
    rows: list[dict[str, Any]] = [{"id": f"a{i}", "text": f"{words['a']} {i}"} for i in range(36)]
    rows += [{"id": f"b{i}", "text": f"{words['b']} {i}"} for i in range(4)]
    rows += [
        {"id": f"g{c}{i}", "text": f"{words[c]} gold {i}", "gold": {"sentiment": lab}}
        for c, lab in (("a", "positive"), ("b", "negative"))
        for i in range(2)
    ]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    job = jobs.enqueue(
        store, SYSTEM, p["id"], "train", {"question": "sentiment", "name": "clusters"}, submit=False
    )
    assert jobs.run_job(store, job["id"]) == "succeeded"
    return p


def _lease_and_answer(store: Store, person: Actor, pid: int) -> tuple[str, int]:
    """Lease the next record, answer it; its cluster (a or b) and id."""
    lease = dispatch.next_assignment(store, person, pid)
    assert lease is not None
    dispatch.submit_response(store, person, lease["assignment_id"], {"sentiment": "positive"})
    return ("a" if lease["record"]["fields"]["text"].startswith("alpha") else "b"), int(lease["record"]["id"])


def test_people_see_records_far_from_what_people_answered_first(
    store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _clustered(store, tmp_path, monkeypatch)
    first, _ = make_user(store, "first-person")
    cluster, answered = _lease_and_answer(store, first, p["id"])  # before routing: the import's order
    assert cluster == "a"
    out = ai_first.route(store, SYSTEM, p["id"])
    assert out["diverse"] == 39  # every record left to people: fewer than the pool of 100
    person, _ = make_user(store, "second-person")
    assert _lease_and_answer(store, person, p["id"])[0] == "b"  # the other cluster than the answered one
    with store.read() as conn:
        pr = dict(conn.execute(sa.select(records.c.id, records.c.priority).where(
            records.c.project_id == p["id"], ~records.c.is_gold)).all())  # fmt: skip
    assert sorted(pr.values(), reverse=True)[:39] == list(range(1039, 1000, -1))
    assert pr[answered] < 1000  # done (overlap 1): out of the queue


def test_the_second_record_people_get_comes_from_the_other_cluster(
    store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _clustered(store, tmp_path, monkeypatch)
    assert ai_first.route(store, SYSTEM, p["id"])["diverse"] == 40
    person, _ = make_user(store, "picking-person")
    first, second = (_lease_and_answer(store, person, p["id"])[0] for _ in range(2))
    assert first != second


def test_without_a_local_model_or_with_no_pool_the_order_is_uncertainty_alone(
    store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _clustered(store, tmp_path, monkeypatch, diversity_pool=0)
    out = ai_first.route(store, SYSTEM, p["id"])
    assert out["diverse"] == 0
    with store.read() as conn:
        top = conn.execute(
            sa.select(sa.func.max(records.c.priority)).where(records.c.project_id == p["id"])
        ).scalar()
    assert top is not None and top < 1000


def test_the_local_model_is_retrained_once_enough_new_consensus_came_in(
    store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _clustered(store, tmp_path, monkeypatch, retrain_after=2, reroute_after=None)
    assert ai_first.queue_due(store, submit=False) == []  # trained on everything there is
    person, _ = make_user(store, "retrain-person")
    _lease_and_answer(store, person, p["id"])
    assert ai_first.queue_due(store, submit=False) == []  # 1 < 2
    _lease_and_answer(store, person, p["id"])
    queued = ai_first.queue_due(store, submit=False)
    assert len(queued) == 1
    job = jobs.get_job(store, SYSTEM, queued[0])
    assert job["kind"] == "train" and job["params"]["name"] == "clusters"
    assert ai_first.queue_due(store, submit=False) == []  # one is queued already
    assert jobs.run_job(store, queued[0]) == "succeeded"
    assert jobs.get_job(store, SYSTEM, queued[0])["result"]["trained_on"] == 6  # 4 gold + 2 people
    assert ai_first.queue_due(store, submit=False) == []  # trained since
