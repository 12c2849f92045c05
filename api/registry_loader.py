"""The default model loader: champions from the MLflow registry, loaded as any user would.

:class:`training.serving.RegistryReader` resolves the ``champion`` alias and loads that
version with ``mlflow.pyfunc.load_model``, through its own client: nothing here touches
MLflow's process-wide URIs, so the refresh thread cannot redirect anything else. Registry
facts (aliases, data tags, backtest metrics) are re-read on every refresh; the model
itself is loaded only when the ``champion`` alias points at a new version, and answers one
query (:func:`warm`) before the store swaps it in.
"""

from __future__ import annotations

import pandas as pd

from api.model_store import LoadedModel, Loader, Served, is_capacity, is_demand, is_risk
from forecasting.errors import OrdercastError
from forecasting.queries import (
    CapacityQuery,
    DemandQuery,
    answer_capacity,
    answer_demand,
    answer_risk,
)
from training.registry import DECISION_TAG, PREVIOUS_CHAMPION_TAG
from training.serving import CHALLENGER, CHAMPION, RegistryReader, model_name


def registry_loader(tracking_uri: str) -> Loader:
    """A :data:`~api.model_store.Loader` over the registry at ``tracking_uri``."""
    reader = RegistryReader(tracking_uri)

    def load(kind: str, served: Served | None) -> Served:
        name = model_name(kind)
        champion = reader.info(name, CHAMPION)
        if champion is None:
            raise LookupError(f"{name} has no '{CHAMPION}' version in the registry yet")
        challenger = reader.info(name, CHALLENGER)
        if DECISION_TAG not in champion.gate:
            # The alias moved but the gate's last write is missing: a training is writing its
            # decision right now, or was killed before it (the next training puts the alias
            # back). Either way not a champion yet: keep what serves, or serve the version
            # the alias pointed at before.
            if served is not None:
                return served
            previous = champion.gate.get(PREVIOUS_CHAMPION_TAG, "")
            if not previous:
                raise LookupError(
                    f"{name}@{CHAMPION} points at v{champion.version}, which has no gate "
                    "decision (its training was interrupted or is finishing); run `ordercast "
                    f"train {kind}`, or `ordercast models promote {kind} VERSION`"
                )
            champion = reader.version_info(name, previous)
        if served is not None and served.version == champion.version:
            return served.with_registry(champion, challenger)
        core = reader.load_core(kind, champion.version)
        loaded = LoadedModel(kind, champion.version, core, champion=champion, challenger=challenger)
        warm(loaded)
        return loaded

    return load


def warm(loaded: Served) -> None:
    """Answer one small query with a just-loaded model, in the loading thread, before it is
    swapped in: the first request after a swap does not pay for what the model builds
    lazily, and a model that loads but cannot answer is refused here (the old one keeps
    serving, /ready lists the error) instead of failing every request.

    A domain refusal (e.g. no 'total' level in this model) is an answer: it passes.
    Anything else is raised, as a failed load.
    """
    try:
        if is_demand(loaded):
            answer_demand(loaded.core, DemandQuery(level="total", horizon=1))
        elif is_capacity(loaded):
            sites = list(loaded.core.sites_)[:1] or None
            answer_capacity(loaded.core, CapacityQuery(horizon=1, sites=sites))
        elif is_risk(loaded):
            # On the day the memory stands at: the day the service scores, whose site table
            # the warm-up then leaves in the memory's cache.
            memory = getattr(loaded.core, "memory_", None)
            as_of = pd.Timestamp(getattr(memory, "as_of", None) or "2024-01-01")
            answer_risk(loaded.core, warm_up_line(as_of), as_of, batch_history=False)
    except OrdercastError:
        return
    except Exception as exc:
        raise RuntimeError(
            f"{model_name(loaded.kind)} v{loaded.version} loaded but failed a warm-up query "
            f"({type(exc).__name__}: {exc}); not serving it. Fix or retrain it, or promote "
            "another version"
        ) from exc


def warm_up_line(as_of: pd.Timestamp) -> pd.DataFrame:
    """One open order line, as the at-risk route builds its frame from a request."""
    from api.routes.orders import OrderLine, orders_frame  # the route's own conversion

    line = OrderLine.model_validate(
        {
            "order_id": "warm-up",
            "line_id": "warm-up-1",
            "sku": "warm-up",
            "site": "warm-up",
            "order_date": f"{as_of - pd.Timedelta(days=3):%Y-%m-%d}",
            "promised_date": f"{as_of + pd.Timedelta(days=2):%Y-%m-%d}",
            "quantity": 1,
        }
    )
    return orders_frame([line])
