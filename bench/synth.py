"""Synthesis runs: planted duplicates, near-duplicates and contamination found; the cap; throughput.

    .venv/bin/python bench/synth.py [--prompts 885] [--hh-prompts 300] [--dedup-items 100000]
                                    [--run-items 100000] [--only run|dedup|large]

1. **A run end to end.** The LLMBar prompts (../shared/data/preference/llmbar, every
   ``dataset.json``) and the first human turns of ``hh_rlhf_harmless_test`` conversations are the seeds; three deterministic teachers answer them through the real
   client over HTTP (the test endpoint, in this process), in a ``synth`` job on SQLite. Planted:
   on every 10th prompt (+1) teacher-b copies teacher-a's answer (exact, case changed), on every
   10th (+2) teacher-c writes a near copy (one word changed) of teacher-a's answer to the previous
   prompt, on every 10th (+3) teacher-a's answer quotes an item of an evaluation project made of
   200 other ``hh_rlhf_harmless_test`` conversations. Printed: precision and recall of the planted items
   among those removed, the counts per filter, the teachers' shares, the job's wall time and
   answers per second.
2. **Dedup at scale.** ``--dedup-items`` texts (40 words drawn from LLMBar's vocabulary), 5 % of
   them near copies of an earlier one, through :class:`NearDuplicateIndex` (check, then add):
   items per second, precision/recall of the planted copies, and the peak memory it added.
3. **A 100,000-item run.** ``--run-items`` answers (half as many prompts, two teachers) from the
   deterministic endpoint over HTTP (16 calls in flight per teacher), in a ``synth`` job on
   SQLite with every filter on (length, language, contamination, near-duplicates, the cap) and the
   diversity report (the local model when installed), the items imported as records. The floor,
   in the same run: the same calls made by the same client alone (no job, no cache, no filters).
   Each side runs in a child process, so its peak memory (max RSS) is its own; the endpoint runs in
   this process. Printed: items per second of the job, calls per second of the floor, their ratio,
   and each peak.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.rlhf.fake_llm import FakeLLM  # noqa: E402

from assay.services import generation, imports, jobs, projects  # noqa: E402
from assay.services.actors import SYSTEM  # noqa: E402
from assay.services.exports import iter_export_rows  # noqa: E402
from assay.services.synthesis import synth_schema  # noqa: E402
from assay.services.text_filters import NearDuplicateIndex  # noqa: E402
from assay.store.engine import open_store  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "preference"
TEACHERS = ("teacher-a", "teacher-b", "teacher-c")
TAG = re.compile(r"\[p(\d+)\]")


def llmbar() -> tuple[list[str], list[str]]:
    prompts: list[str] = []
    vocab: set[str] = set()
    for f in sorted(glob.glob(str(DATA / "llmbar" / "**" / "dataset.json"), recursive=True)):
        for item in json.loads(Path(f).read_text(encoding="utf-8")):
            if item["input"] not in prompts:
                prompts.append(item["input"])
            for k in ("output_1", "output_2"):
                vocab.update(w for w in re.findall(r"[a-zA-Z]{3,}", item[k].lower()))
    return prompts, sorted(vocab)


def hh(n: int, skip: int = 0) -> list[str]:
    out = []
    with gzip.open(DATA / "hh_rlhf_harmless_test" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for k, line in enumerate(f):
            if k >= skip:
                out.append(json.loads(line)["chosen"].strip())
            if len(out) == n:
                break
    return out


def hh_prompts(n: int) -> list[str]:
    """The first human turn of hh-rlhf harmless-test conversations (after the 200 of the evaluation set)."""
    out = []
    for conv in hh(3 * n, skip=200):
        first = conv.split("Assistant:", 1)[0].replace("Human:", "").strip()
        if first and first not in out:
            out.append(first)
        if len(out) == n:
            break
    return out


def words_of(rng: random.Random, vocab: list[str], n: int = 40) -> str:
    return " ".join(rng.choice(vocab) for _ in range(n))


def near(text: str, rng: random.Random) -> str:
    ws = text.split()
    ws[rng.randrange(len(ws))] = "changed"
    return " ".join(ws)


def run_end_to_end(n_prompts: int, n_hh: int, home: Path) -> dict[str, Any]:
    prompts, vocab = llmbar()
    prompts = prompts[:n_prompts] + hh_prompts(n_hh)
    evals = hh(200)

    def base(teacher: str, i: int) -> str:
        return f"{teacher} on {i}: " + words_of(random.Random(f"{teacher}/{i}"), vocab) + "."

    planted: set[tuple[int, str]] = set()
    for i in range(len(prompts)):
        if i % 10 == 1:
            planted.add((i, "teacher-b"))
        elif i % 10 == 2 and i > 0:
            planted.add((i, "teacher-c"))
        elif i % 10 == 3:
            planted.add((i, "teacher-a"))

    def answer(model: str, prompt: str) -> str | None:
        m = TAG.search(prompt)
        if m is None:
            return None
        i = int(m.group(1))
        if model == "teacher-b" and i % 10 == 1:
            return base("teacher-a", i).upper()
        if model == "teacher-c" and i % 10 == 2:
            return near(base("teacher-a", i - 1), random.Random(i))
        if model == "teacher-a" and i % 10 == 3:
            return "As the benchmark says: " + evals[i % len(evals)]
        return base(model, i)

    llm = FakeLLM().start()
    llm.answerer = answer
    store = open_store(f"sqlite:///{home / 'bench.db'}")
    try:
        ev = projects.create_project(
            store, SYSTEM, {"name": "hh-eval", "fields": [{"name": "text", "type": "text"}],
                            "questions": [{"name": "ok", "type": "label", "options": ["y", "n"]}]},
        )  # fmt: skip
        imports.import_rows(
            store, SYSTEM, ev["id"], enumerate(({"id": f"e{k}", "text": t} for k, t in enumerate(evals)), 1)
        )
        p = generation.ensure_project(store, SYSTEM, "bench-synth", synth_schema("bench-synth"))
        teachers = [{"type": "openai", "model": t, "base_url": llm.base_url, "max_concurrency": 8,
                     "params": {"temperature": 0.7}} for t in TEACHERS]  # fmt: skip
        params = {"teachers": teachers, "eval_sets": ["hh-eval"], "seed": 1,
                  "prompts": [{"id": f"p{i}", "prompt": f"[p{i}] {text}"} for i, text in enumerate(prompts)]}  # fmt: skip
        job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
        t0 = time.perf_counter()
        assert jobs.run_job(store, job["id"]) == "succeeded"
        wall = time.perf_counter() - t0
        res = jobs.get_job(store, SYSTEM, job["id"])["result"]
        with store.read() as conn:
            kept = {(int(r["metadata"]["synth"]["prompt_id"][1:]), r["metadata"]["synth"]["teacher"])
                    for r in iter_export_rows(conn, int(p["id"]))}  # fmt: skip
    finally:
        llm.stop()
        store.dispose()
    generated = {(i, t) for i in range(len(prompts)) for t in TEACHERS}
    removed = generated - kept
    hit = removed & planted
    return {
        "prompts": len(prompts),
        "answers": len(generated),
        "planted": len(planted),
        "removed": res["removed"],
        "precision": round(len(hit) / len(removed), 4) if removed else None,
        "recall": round(len(hit) / len(planted), 4),
        "teacher_shares": res["diversity"]["teacher_shares"],
        "distinct_2": res["diversity"]["distinct_2"],
        "job_seconds": round(wall, 2),
        "answers_per_second": round(len(generated) / wall, 1),
    }


def run_dedup(n: int) -> dict[str, Any]:
    _, vocab = llmbar()
    rng = random.Random(0)
    texts: list[str] = []
    planted: set[int] = set()
    for i in range(n):
        if i > 10 and rng.random() < 0.05:
            texts.append(near(texts[rng.randrange(i)], rng))
            planted.add(i)
        else:
            texts.append(words_of(rng, vocab))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    index = NearDuplicateIndex(0.8)
    t0 = time.perf_counter()
    found = {i for i, t in enumerate(texts) if index.check_add(str(i), t) is not None}
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hit = found & planted
    return {
        "items": n,
        "planted_near_copies": len(planted),
        "found": len(found),
        "precision": round(len(hit) / len(found), 4) if found else None,
        "recall": round(len(hit) / len(planted), 4) if planted else None,
        "seconds": round(wall, 2),
        "items_per_second": round(n / wall),
        "peak_memory_added_mb": round((after - before) / 1024, 1),
    }


def _large_prompts(n: int) -> list[dict[str, str]]:
    return [
        {"id": f"p{i}", "prompt": f"[p{i}] Explain item {i} of the catalogue in plain words."}
        for i in range(n)
    ]


def _large_answer(vocab: list[str]) -> Any:
    def answer(model: str, prompt: str) -> str | None:
        m = TAG.search(prompt)
        return (
            None
            if m is None
            else f"{model} on {m.group(1)}: " + words_of(random.Random(f"{model}/{m.group(1)}"), vocab)
        )

    return answer


def _child_large(kind: str, n_items: int, base_url: str, home: Path) -> dict[str, Any]:
    """One side of the 100,000-item run, in this (child) process: the job, or the floor."""
    from assay.connectors.base import user_message
    from assay.connectors.spec import build_connector

    teachers = [{"type": "openai", "model": t, "base_url": base_url, "max_concurrency": 16,
                 "params": {"temperature": 0.7}} for t in TEACHERS[:2]]  # fmt: skip
    prompts = _large_prompts(n_items // 2)
    t0 = time.perf_counter()
    if kind == "floor":
        calls = 0
        for spec in teachers:
            connector = build_connector(spec)
            try:
                calls += len(connector.complete_many([user_message(p["prompt"]) for p in prompts]))
            finally:
                connector.close()
        wall = time.perf_counter() - t0
        out: dict[str, Any] = {
            "calls": calls,
            "seconds": round(wall, 1),
            "calls_per_second": round(calls / wall, 1),
        }
    else:
        store = open_store(f"sqlite:///{home / 'large.db'}")
        try:
            ev = projects.create_project(
                store, SYSTEM, {"name": "eval", "fields": [{"name": "text", "type": "text"}],
                                "questions": [{"name": "ok", "type": "label", "options": ["y", "n"]}]},
            )  # fmt: skip
            imports.import_rows(
                store,
                SYSTEM,
                ev["id"],
                enumerate(({"id": f"e{k}", "text": t} for k, t in enumerate(hh(200))), 1),
            )
            p = generation.ensure_project(store, SYSTEM, "large", synth_schema("large"))
            params = {"teachers": teachers, "prompts": prompts, "eval_sets": ["eval"], "languages": ["en"],
                      "min_chars": 10, "seed": 1}  # fmt: skip
            job = jobs.enqueue(store, SYSTEM, p["id"], "synth", params, submit=False)
            t0 = time.perf_counter()
            state = jobs.run_job(store, job["id"])
            wall = time.perf_counter() - t0
            res = jobs.get_job(store, SYSTEM, job["id"])["result"]
        finally:
            store.dispose()
        assert state == "succeeded", state
        out = {"generated": res["generated"], "accepted": res["accepted"], "removed": res["removed"],
               "seconds": round(wall, 1), "items_per_second": round(res["generated"] / wall, 1),
               "embedding": (res["diversity"].get("embedding") or {}).get("model"),
               "distinct_2": res["diversity"]["distinct_2"], "phases": res.get("seconds"),
               "cached_calls": res.get("cached_calls")}  # fmt: skip
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_large(n_items: int) -> dict[str, Any]:
    import subprocess

    _, vocab = llmbar()
    llm = FakeLLM().start()
    llm.answerer = _large_answer(vocab)
    sides: dict[str, Any] = {}
    try:
        for kind in ("floor", "job"):
            with tempfile.TemporaryDirectory() as tmp:
                r = subprocess.run(
                    [sys.executable, __file__, "--child", kind, "--run-items", str(n_items),
                     "--base-url", llm.base_url, "--home", tmp],
                    capture_output=True, text=True, check=False, env={**__import__("os").environ, "ASSAY_HOME": tmp},
                )  # fmt: skip
            if r.returncode:
                raise RuntimeError(f"{kind} failed: {r.stderr[-2000:]}")
            sides[kind] = json.loads(r.stdout.strip().splitlines()[-1])
            llm.bodies.clear()
            llm.auth.clear()
    finally:
        llm.stop()
    job, floor = sides["job"], sides["floor"]
    return {
        "items": n_items,
        "job": job,
        "floor": floor,
        "job_vs_floor": round(job["items_per_second"] / floor["calls_per_second"], 3),
        "peak_job_vs_floor": round(job["peak_rss_mb"] / floor["peak_rss_mb"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=885, help="LLMBar prompts (757 distinct)")
    ap.add_argument("--hh-prompts", type=int, default=300, help="hh-rlhf harmless-test prompts")
    ap.add_argument("--dedup-items", type=int, default=100_000)
    ap.add_argument("--run-items", type=int, default=100_000, help="items of the large run (two teachers)")
    ap.add_argument("--only", choices=["run", "dedup", "large"], default=None)
    ap.add_argument("--child", choices=["job", "floor"], help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--home", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child_large(args.child, args.run_items, args.base_url, Path(args.home))))
        return
    if args.only in (None, "run"):
        with tempfile.TemporaryDirectory() as tmp:
            run = run_end_to_end(args.prompts, args.hh_prompts, Path(tmp))
        print(json.dumps({"run": run}))
    if args.only in (None, "dedup"):
        print(json.dumps({"dedup": run_dedup(args.dedup_items)}))
    if args.only in (None, "large"):
        print(json.dumps({"large": run_large(args.run_items)}))


if __name__ == "__main__":
    main()
