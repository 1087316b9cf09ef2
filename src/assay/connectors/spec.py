"""A connector described by a JSON object, so that a job can store it and a worker build it.

``{"type": "openai", "model": "...", "base_url": "http://...", "api_key_env": "OPENAI_API_KEY",
"params": {...}, "max_concurrency": 4, "price": [prompt_per_mtok, completion_per_mtok]}``;
``{"type": "callable", "ref": "module:function", "model": "..."}`` (only modules listed in
``$ASSAY_CALLABLE_MODULES``, comma-separated, on the machine that queues and the one that runs:
a job never imports code a caller names); ``{"type": "embedding", "model": "<name>", "question":
"<question>"}`` (a local model a ``train`` job made: :mod:`assay.connectors.embeddings`); ``{"type": "rules", "name": "...", "rules": [...],
"defaults": {...}}`` (:mod:`assay.connectors.rules`). A spec never holds a secret: an API key
is read from the environment variable it names, on the worker.

A spec sent over HTTP (``remote``) may name only model endpoints the instance's admin lists in
``$ASSAY_MODEL_ENDPOINTS`` (comma-separated URL prefixes), so that no caller makes the server
send requests (with its API keys) to an address of its choosing; the local CLI may name any.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

from assay.connectors.base import BaseConnector, Price
from assay.connectors.callable import CallableConnector
from assay.connectors.openai_compat import OpenAICompatible
from assay.connectors.rules import RuleGrader

__all__ = [
    "CALLABLE_MODULES_ENV",
    "MODEL_ENDPOINTS_ENV",
    "build_connector",
    "check_spec",
    "model_path",
    "spec_model",
]

CALLABLE_MODULES_ENV = "ASSAY_CALLABLE_MODULES"
MODEL_ENDPOINTS_ENV = "ASSAY_MODEL_ENDPOINTS"
TYPES = ("openai", "callable", "rules", "embedding")
MAX_CONCURRENCY = 64


def _allowed_module(ref: str) -> bool:
    allowed = [m.strip() for m in os.environ.get(CALLABLE_MODULES_ENV, "").split(",") if m.strip()]
    module = ref.partition(":")[0]
    return any(module == m or module.startswith(m + ".") for m in allowed)


def _allowed_endpoint(url: str) -> bool:
    allowed = [u.strip().rstrip("/") for u in os.environ.get(MODEL_ENDPOINTS_ENV, "").split(",") if u.strip()]
    url = url.rstrip("/")
    return any(url == a or url.startswith(a + "/") for a in allowed)


def check_spec(spec: Any, *, remote: bool = False) -> dict[str, Any]:
    """The spec, checked (``ValueError`` naming what is wrong); builds nothing that calls out.
    ``remote``: it came over HTTP (model endpoints must be listed in ``$ASSAY_MODEL_ENDPOINTS``)."""
    if not isinstance(spec, dict):
        raise ValueError("a connector is an object with a type")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ValueError(f"connector type must be one of {', '.join(TYPES)}")
    conc = spec.get("max_concurrency", 4)
    if not isinstance(conc, int) or not 1 <= conc <= MAX_CONCURRENCY:
        raise ValueError(f"max_concurrency must be an integer from 1 to {MAX_CONCURRENCY}")
    if spec.get("params") is not None and not isinstance(spec["params"], dict):
        raise ValueError("params must be an object")
    if kind == "openai":
        if not isinstance(spec.get("model"), str) or not spec["model"]:
            raise ValueError("an openai connector needs a model")
        url = spec.get("base_url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ValueError("base_url must be an http(s) URL")
        if remote and not (isinstance(url, str) and _allowed_endpoint(url)):
            raise ValueError(
                f"base_url must be one of the model endpoints listed in ${MODEL_ENDPOINTS_ENV} on the server"
            )
        price = spec.get("price")
        if price is not None and not (
            isinstance(price, list)
            and len(price) == 2
            and all(isinstance(p, int | float) and p >= 0 for p in price)
        ):
            raise ValueError("price is [prompt, completion] per million tokens, each at least 0")
    elif kind == "embedding":
        name = spec.get("model")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
            raise ValueError("an embedding connector names a trained model (letters, digits, . _ -)")
        if not isinstance(spec.get("question"), str):
            raise ValueError("an embedding connector names the question its classifier answers")
        if not model_path(name).is_file():
            raise ValueError(f"no trained model {name!r} (train one with a `train` job)")
    elif kind == "callable":
        ref = spec.get("ref")
        if not isinstance(ref, str) or ":" not in ref:
            raise ValueError("a callable connector needs ref 'module:function'")
        if not _allowed_module(ref):
            raise ValueError(f"module of {ref!r} is not listed in ${CALLABLE_MODULES_ENV}")
    else:
        RuleGrader(
            spec.get("rules") or [], name=str(spec.get("name") or "rules"), defaults=spec.get("defaults")
        )
    return dict(spec)


def model_path(name: str) -> Path:
    """Where a trained local model of that name lives: ``$ASSAY_HOME/models/<name>.npz``."""
    from assay.settings import Settings

    return Settings().home / "models" / f"{name}.npz"


def spec_model(spec: dict[str, Any]) -> str:
    """The model name a spec's answers carry."""
    if spec["type"] == "rules":
        return str(spec.get("name") or "rules")
    if spec["type"] == "callable":
        return str(spec.get("model") or spec["ref"].rpartition(":")[2])
    return str(spec["model"])


def build_connector(spec: dict[str, Any]) -> BaseConnector:
    spec = check_spec(spec)
    conc = int(spec.get("max_concurrency", 4))
    params = dict(spec.get("params") or {})
    if spec["type"] == "openai":
        price = spec.get("price")
        return OpenAICompatible(
            spec["model"],
            base_url=spec.get("base_url"),
            api_key_env=spec.get("api_key_env", "OPENAI_API_KEY"),
            params=params,
            max_concurrency=conc,
            max_retries=int(spec.get("max_retries", 5)),
            timeout=float(spec.get("timeout", 60.0)),
            price=Price(float(price[0]), float(price[1])) if price else None,
        )
    if spec["type"] == "embedding":
        from assay.connectors.embeddings import EmbeddingConnector

        return EmbeddingConnector(model_path(spec["model"]), spec["question"], name=spec["model"])
    if spec["type"] == "callable":
        module, _, name = spec["ref"].partition(":")
        fn = getattr(importlib.import_module(module), name)
        return CallableConnector(fn, model=spec_model(spec), params=params, max_concurrency=conc)
    return RuleGrader(
        spec["rules"], name=spec_model(spec), defaults=spec.get("defaults"), max_concurrency=conc
    )
