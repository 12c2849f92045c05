"""The default model loader: champions from the MLflow registry, loaded as any user would.

:class:`training.serving.RegistryReader` resolves the ``champion`` alias and loads that
version with ``mlflow.pyfunc.load_model``, through its own client: nothing here touches
MLflow's process-wide URIs, so the refresh thread cannot redirect anything else. Registry
facts (aliases, data tags, backtest metrics) are re-read on every refresh; the model
itself is loaded only when the ``champion`` alias points at a new version.
"""

from __future__ import annotations

from api.model_store import LoadedModel, Loader, Served
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
        if served is not None and served.version == champion.version:
            return served.with_registry(champion, challenger)
        core = reader.load_core(kind, champion.version)
        return LoadedModel(kind, champion.version, core, champion=champion, challenger=challenger)

    return load
