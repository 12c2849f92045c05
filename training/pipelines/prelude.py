"""The opening every training pipeline shares.

Load and fingerprint the history, stop on a dry run, open the store and the kind's
experiment, apply the data gate, find the champion, and stop when it was already trained
on this data with this recipe. What is left to a pipeline is its own model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from forecasting.loaders import load_orders_with_issues
from ordercast.settings import Settings
from training import tracking
from training.pipelines.common import (
    EXIT_PROMOTED,
    RegistryView,
    TrainOutcome,
    open_registry,
    up_to_date,
)
from training.progress import Steps


@dataclass(frozen=True)
class History:
    """The validated order history of one training."""

    orders: pd.DataFrame  # every valid line
    dropped: pd.DataFrame  # the issues of the rows dropped on loading
    cutoff: pd.Timestamp  # ``as_of``, else the last order date
    known: pd.DataFrame  # the lines ordered up to ``cutoff``: what the model may learn from


# Where a training's order lines come from: a file or database URL read through the mapping,
# or lines already read and validated (the order store's, ``store.orders.read_orders``).
HistorySource = Path | pd.DataFrame


def load_history(data: HistorySource, mapping: Path | None, as_of: pd.Timestamp | None) -> History:
    """The history at ``data`` (read through ``mapping``), cut at ``as_of`` when given."""
    if isinstance(data, pd.DataFrame):
        orders, dropped = data, pd.DataFrame(columns=["row", "column", "message"])
    else:
        orders, dropped = load_orders_with_issues(data, mapping)
    if as_of is None:
        return History(orders, dropped, pd.Timestamp(orders["order_date"].max()), orders)
    cutoff = pd.Timestamp(as_of)
    return History(orders, dropped, cutoff, orders[orders["order_date"] <= cutoff])


@dataclass(frozen=True)
class Prelude:
    """Where a pipeline starts its own work: the data, its fingerprint, the recipe's hash,
    the store (with the champion), and the steps and clock of the run."""

    history: History
    series: pd.DataFrame | None  # the pipeline's derived series, when it asked for them
    fingerprint: dict[str, object]
    recipe_id: str
    registry: RegistryView
    steps: Steps
    started: float  # ``time.perf_counter()`` at the start of the training

    @property
    def champion(self) -> ModelVersion | None:
        """The kind's champion version, or None."""
        return self.registry.champion

    def run_tags(self) -> dict[str, object]:
        """What every run records as tags: the data, the code and the recipe."""
        return {**self.fingerprint, **tracking.code_version(), "recipe.hash": self.recipe_id}


def open_training(
    settings: Settings,
    kind: str,
    data: HistorySource,
    mapping: Path | None,
    as_of: pd.Timestamp | None,
    recipe: dict,
    *,
    later_steps: Sequence[str],
    force: bool,
    dry_run: bool,
    series: Callable[[History], pd.DataFrame] | None = None,
) -> Prelude | TrainOutcome:
    """Run the shared opening of a ``kind`` training; an outcome when it ends there.

    ``series`` derives what the pipeline learns from (fingerprinted with the history);
    ``later_steps`` name the pipeline's own steps after ``load`` and ``registry``. Nothing
    is written on a dry run, or when the champion is up to date.
    """
    started = time.perf_counter()
    steps = Steps(kind, ["load", "registry", *later_steps])
    with steps.step("load"):
        history = load_history(data, mapping, as_of)
        derived = series(history) if series is not None else None
        fingerprint = tracking.fingerprint(history.known, derived)
    recipe_id = tracking.recipe_hash(recipe)
    if dry_run:
        steps.close()
        return TrainOutcome(kind, EXIT_PROMOTED, _dry_run_message(fingerprint))
    with steps.step("registry"):
        view = open_registry(settings, kind, fingerprint)
        current = up_to_date(kind, view.champion, fingerprint, recipe_id, force, view.challenger)
    if current is not None:
        steps.close()
        return current
    return Prelude(history, derived, fingerprint, recipe_id, view, steps, started)


def _dry_run_message(fingerprint: dict[str, object]) -> str:
    size = f"{fingerprint['data.rows']:,} valid order lines"
    if "data.series" in fingerprint:
        size += f", {fingerprint['data.series']:,} series"
    return f"dry run: {size}; configuration valid; nothing written"
