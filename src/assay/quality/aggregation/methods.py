"""Categorical aggregators by short name (as the CLI and the consensus service name them).

:func:`method_class` imports only the module of the method asked for (a command that runs
Dawid-Skene does not load GLAD's optimiser); :data:`METHODS` holds them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.quality.aggregation._base import CategoricalAggregator

__all__ = ["METHODS", "METHOD_NAMES", "method_class"]

_WHERE: dict[str, tuple[str, str]] = {
    "mv": ("majority_vote", "MajorityVote"),
    "ds": ("dawid_skene", "DawidSkene"),
    "onecoin": ("one_coin", "OneCoinDawidSkene"),
    "glad": ("glad", "GLAD"),
    "mace": ("mace", "MACE"),
    "auto": ("auto", "AutoAggregator"),
}

METHOD_NAMES: tuple[str, ...] = tuple(_WHERE)


def method_class(name: str) -> type[CategoricalAggregator]:
    """The aggregator class called ``name`` (``KeyError`` for an unknown name)."""
    module, cls = _WHERE[name]
    found: type[CategoricalAggregator] = getattr(import_module(f"assay.quality.aggregation.{module}"), cls)
    return found


if TYPE_CHECKING:
    METHODS: dict[str, type[CategoricalAggregator]]
    """Categorical aggregators by short name (as used by the CLI)."""


def __getattr__(name: str) -> Any:
    if name == "METHODS":  # every class, so every module: loaded on first use only
        value = {n: method_class(n) for n in METHOD_NAMES}
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
