"""The default model loader: champions from the MLflow registry, loaded as any user would.

``mlflow.pyfunc.load_model("models:/ordercast-<kind>/<version>")`` then
``unwrap_python_model().core`` gives the domain object the routes call. Registry facts
(aliases, data tags, backtest metrics) are re-read on every refresh; the model itself is
loaded only when the ``champion`` alias points at a new version.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from api.model_store import LoadedModel, Loader, VersionInfo
from training.tracking import using_tracking_uri

logger = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"


def registry_loader(tracking_uri: str) -> Loader:
    """A :data:`~api.model_store.Loader` over the registry at ``tracking_uri``."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def info(name: str, alias: str) -> VersionInfo | None:
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None
        scores: dict[str, float] = {}
        if mv.run_id:
            try:
                scores = dict(client.get_run(mv.run_id).data.metrics)
            except MlflowException:
                scores = {}
        created = datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat()
        tags = dict(mv.tags)
        return VersionInfo(
            version=str(mv.version),
            created_at=created,
            run_id=mv.run_id,
            data={k: v for k, v in tags.items() if k.startswith(("data.", "code."))},
            scores=scores,
            gate={k: v for k, v in tags.items() if k.startswith("gate.")},
        )

    def load(kind: str, served: LoadedModel | None) -> LoadedModel:
        name = f"ordercast-{kind}"
        champion = info(name, CHAMPION)
        if champion is None:
            raise LookupError(f"{name} has no '{CHAMPION}' version in the registry yet")
        challenger = info(name, CHALLENGER)
        if served is not None and served.version == champion.version:
            return served.with_registry(champion, challenger)
        with using_tracking_uri(tracking_uri):  # not left set: it would redirect the process
            model = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
        core = getattr(model.unwrap_python_model(), "core", None)
        if core is None:
            raise TypeError(f"{name} v{champion.version} has no domain object ('core')")
        return LoadedModel(kind, champion.version, core, champion=champion, challenger=challenger)

    return load
