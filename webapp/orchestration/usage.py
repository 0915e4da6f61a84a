"""What a prompt run cost: the price table (settings, a project's override) and the sum."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PRICE_KINDS = ("prompt", "completion")
"""Per-model prices are USD per million tokens of each kind."""


def check_prices(table: Any, where: str = "prices") -> dict[str, dict[str, float]]:
    """Validate ``{"model": {"prompt": 0.15, "completion": 0.6}}``; ValueError names the fault."""
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must map model names to prices, got {type(table).__name__}")
    checked: dict[str, dict[str, float]] = {}
    for model, prices in table.items():
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"{where}: model names must be non-empty strings")
        if not isinstance(prices, Mapping) or set(prices) - set(PRICE_KINDS):
            raise ValueError(
                f"{where}[{model!r}] must be an object with 'prompt' and/or 'completion' prices"
            )
        row: dict[str, float] = {}
        for kind in PRICE_KINDS:
            value = prices.get(kind, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}[{model!r}].{kind} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}[{model!r}].{kind} must be a non-negative number")
            row[kind] = float(value)
        checked[model] = row
    return checked


def price_of(
    model: str | None,
    global_prices: Mapping[str, Mapping[str, float]] | None,
    project_prices: Mapping[str, Mapping[str, float]] | None = None,
) -> Mapping[str, float] | None:
    """The model's prices: the project's table first, then the installation's."""
    for table in (project_prices, global_prices):
        if table and model in table:
            return table[model]
    return None


def cost_of(
    prices: Mapping[str, float] | None, prompt_tokens: int | None, completion_tokens: int | None
) -> float | None:
    """USD for the tokens, or None when the model has no price."""
    if prices is None:
        return None
    return (
        (prompt_tokens or 0) * prices.get("prompt", 0.0)
        + (completion_tokens or 0) * prices.get("completion", 0.0)
    ) / 1_000_000
