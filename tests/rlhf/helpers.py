"""Shared pieces of the RLHF tests: prompt sets, connectors on the fake server, simulated annotators."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from assay.connectors import OpenAICompatible, Price, ResponseCache
from assay.services import blind, dispatch, records
from assay.services.actors import SYSTEM, Actor
from assay.services.generation import ModelSpec
from assay.store.engine import Store
from tests.rlhf.fake_llm import FakeLLM

MODELS = ("model-strong", "model-mid", "model-weak")
PLANTED = {"model-strong": 1.0, "model-mid": 0.0, "model-weak": -1.0}  # Bradley-Terry log-strengths
PRICES = {"model-strong": Price(5.0, 15.0), "model-mid": Price(1.0, 2.0), "model-weak": Price(0.1, 0.2)}


def write_prompts(path: Path, n: int, *, extra: dict[int, str] | None = None) -> Path:
    lines = []
    for i in range(n):
        text = f"Question number {i}: explain topic {i % 7} briefly."
        if extra and i in extra:
            text += " " + extra[i]
        lines.append(
            json.dumps(
                {
                    "id": f"q{i:03d}",
                    "prompt": text,
                    "category": "math" if i % 2 else "writing",
                    "reference": f"Reference answer {i}.",
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def specs(
    llm: FakeLLM, cache: ResponseCache | None = None, models: tuple[str, ...] = MODELS
) -> list[ModelSpec]:
    return [
        ModelSpec(
            OpenAICompatible(
                m,
                base_url=llm.base_url,
                api_key_env=None,
                params={"temperature": 0.7, "max_tokens": 64},
                max_concurrency=4,
                cache=cache,
                price=PRICES.get(m),
                backoff_base=0.001,
            )
        )
        for m in models
    ]


def close(ss: list[ModelSpec]) -> None:
    for s in ss:
        close_fn = getattr(s.connector, "close", None)
        if close_fn is not None:
            close_fn()


def simulated_choice(
    record: dict[str, Any], who: str, shown: dict[str, dict[str, Any]], *, left_bias: bool = False
) -> dict[str, Any]:
    """A simulated annotator: picks by the planted Bradley-Terry strengths, seeded per record and person.

    ``shown``: each letter the lease shows and the real candidate behind it (``blind.reveal``):
    the simulation knows the models a blind annotator does not."""
    letters = list(shown)  # in the order shown to this annotator
    if left_bias:
        return {"choice": letters[0], "strength": 1}
    a, b = sorted(letters[:2], key=lambda k: shown[k]["model"])  # the draw must not depend on the order
    sa, sb = PLANTED[shown[a]["model"]], PLANTED[shown[b]["model"]]
    pair = sorted([shown[a]["model"], shown[b]["model"]])
    key = f"{record['metadata']['generation']['prompt_id']}|{pair}|{who}"
    rng = random.Random(key)
    p_a = 1.0 / (1.0 + math.exp(sb - sa))
    win = a if rng.random() < p_a else b
    gap = abs(sa - sb)
    return {"choice": win, "strength": 3 if gap > 1.5 else 2 if gap > 0.5 else 1}


def annotate_all(store: Store, actor: Actor, project: str, *, left_bias: bool = False) -> int:
    n = 0
    while (a := dispatch.next_assignment(store, actor, project)) is not None:
        shown = blind.reveal(store, int(a["assignment_id"]))["candidates"]
        record = records.get_record(
            store, SYSTEM, int(a["record"]["id"])
        )  # with the metadata a lease withholds
        value = simulated_choice(record, actor.name, shown, left_bias=left_bias)
        dispatch.submit_response(store, actor, a["assignment_id"], {"preference": value}, duration_ms=1000)
        n += 1
    return n
