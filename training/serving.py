"""The registry reader the API serves from: model kinds, aliases, versions and champions.

One definition of the model kinds and alias names (training, the API and the CLI import
them from here). :class:`RegistryReader` reads one MLflow registry through its own
explicit :class:`~mlflow.tracking.MlflowClient` and loads a version as any MLflow user
would (``mlflow.pyfunc.load_model``), from artifacts it downloaded with that same store:
nothing sets MLflow's process-wide tracking or registry URI, so a background refresh
thread and a training run in the same process cannot redirect each other.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from forecasting.cores import AnyCore, CapacityCore, DemandCore, RiskCore
from forecasting.errors import ConfigError, OrdercastError
from forecasting.redaction import redact

if TYPE_CHECKING:  # MLflow is imported when a reader is made: the names above stay light
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.pyfunc import PyFuncModel
    from mlflow.tracking import MlflowClient

KINDS: tuple[str, ...] = ("demand", "capacity", "risk")
CHAMPION = "champion"  # the version the API serves
CHALLENGER = "challenger"  # the newest version trained, promoted or not

# What a loaded model's core must offer, per kind (checked when it is loaded).
CORE_PROTOCOLS: Mapping[str, type] = {
    "demand": DemandCore,
    "capacity": CapacityCore,
    "risk": RiskCore,
}

# models:/<name>@<alias> or models:/<name>/<version>, nothing after.
_MODEL_REFERENCE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
_RUN_REFERENCE = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+)$")

# The version tag holding the SHA-256 of the model's files, written when it is registered
# (in the same call). Every file counts, not only the core: MLflow unpickles
# ``python_model.pkl`` and puts the package's ``code/`` on the import path when it loads a
# pyfunc, so any of them could carry code.
MODEL_HASH_TAG = "model.sha256"


# MLflow's answers for "no such model / alias / version": an empty registry, not a broken one.
ABSENT_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


WRITTEN_ON_LOAD = Path("registered_model_meta")


class UnverifiedModelError(OrdercastError):
    """A model's files do not match the hash recorded when it was registered (or none was
    recorded): they are not loaded, since unpickling them would run whatever they hold."""


def package_digest(folder: Path) -> str:
    """The SHA-256 (hex) of a model package: every file under ``folder``, by its relative
    path and content, in path order; the same folder uploaded and downloaded hashes alike.

    Left out: ``registered_model_meta``, the name and version MLflow writes into a model's
    folder whenever it is loaded as ``models:/...``, into the store itself when the
    artifacts are local (a notebook or ``mlflow models serve`` does it); it is YAML that
    nothing executes.
    """
    digest = hashlib.sha256()
    files = (
        p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder) != WRITTEN_ON_LOAD
    )
    for path in sorted(files):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def verify_package(folder: Path, expected: str | None, what: str) -> None:
    """Raise :class:`UnverifiedModelError` unless the files under ``folder`` hash to
    ``expected``, the hash registered for ``what`` (e.g. "ordercast-risk v3")."""
    if not expected:
        raise UnverifiedModelError(
            f"{what} has no recorded content hash (version tag {MODEL_HASH_TAG}): it was "
            "registered before ordercast verified models, or by something else. Its files "
            "are not loaded, since unpickling them runs any code they hold; retrain it "
            "(`ordercast train <kind> --force`) to register a verified version"
        )
    found = package_digest(folder)
    if found != expected:
        raise UnverifiedModelError(
            f"{what}: its files in the artifact store hash to {found}, not to {expected} as "
            "recorded when it was registered: the artifact store was changed after "
            "registration. Not loading it (unpickling runs any code it holds); restore the "
            "artifacts from a backup or retrain, and find out who changed them"
        )


class RegistryUnavailableError(OrdercastError):
    """The registry could not be read: unreachable, corrupt or refused. Not the same as a
    registry without models, and never reported as one."""


def unavailable(uri: str, exc: BaseException) -> RegistryUnavailableError | None:
    """The error to raise for ``exc`` met while reading the registry at ``uri``, or None when
    ``exc`` only says the model, alias or version asked for does not exist."""
    code = getattr(exc, "error_code", None)
    if code in ABSENT_CODES:
        return None
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    return RegistryUnavailableError(
        f"the model registry at {redact(uri)} could not be read ({redact(reason)}); check that "
        "the tracking URI is right and the store is reachable and not damaged"
    )


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version of ``name`` that ``alias`` points at; None when the model or the alias does
    not exist; :class:`RegistryUnavailableError` when the registry cannot be read (never
    mistaken for an empty one)."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except Exception as exc:
        problem = unavailable(client.tracking_uri, exc)
        if problem is None:
            return None
        raise problem from exc


def model_name(kind: str) -> str:
    """The registered model name of ``kind`` (``ordercast-<kind>``); ConfigError if unknown."""
    if kind not in KINDS:
        raise ConfigError(f"unknown model kind '{kind}'; kinds: {', '.join(KINDS)}")
    return f"ordercast-{kind}"


def fits_kind(kind: str, core: object) -> bool:
    """Whether ``core`` offers what a model of ``kind`` must (see :mod:`forecasting.cores`)."""
    protocol = CORE_PROTOCOLS.get(kind)
    return protocol is not None and isinstance(core, protocol)


@dataclass(frozen=True)
class VersionInfo:
    """What the registry says about one model version: when, on what data, how good."""

    version: str
    created_at: str | None = None  # ISO 8601, UTC
    run_id: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)  # data.*, code.* tags
    scores: Mapping[str, float] = field(default_factory=dict)  # metrics of the training run
    gate: Mapping[str, str] = field(default_factory=dict)  # gate.* tags: decision, reason


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` store URI; None for any other store and for
    in-memory SQLite (nothing on disk to lose)."""
    if not uri.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


class RegistryReader:
    """Reads one MLflow store: versions by alias, their facts, their models.

    ``tracking_uri`` is the store (``sqlite:///models/mlflow.db``, ``http://host:5000``);
    ``registry_uri`` defaults to it. Safe to share between threads: its client and the
    identity of a SQLite store's file are guarded by a lock.

    A SQLite store is checked on every read: an open connection keeps reading a file that
    was deleted or moved away (the process holds its handle), so without the check a store
    removed under a running server would go on answering from the ghost file.
    """

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self._client: MlflowClient | None = None
        self._database = sqlite_file(self.registry_uri)
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file last read
        self._lock = threading.Lock()

    @property
    def client(self) -> MlflowClient:
        """The store's client, made on first use: a store that is down, damaged or (SQLite)
        gone fails each read with :class:`RegistryUnavailableError` (so ``/ready`` says
        why) and is picked up once it is back."""
        from mlflow.tracking import MlflowClient

        with self._lock:
            self._check_database()
            if self._client is None:
                try:
                    self._client = MlflowClient(
                        tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
                    )
                except Exception as exc:  # SQLAlchemy, HTTP and OS errors alike: say which
                    raise unavailable(self.tracking_uri, exc) or RegistryUnavailableError(
                        str(exc)
                    ) from exc
            return self._client

    def _check_database(self) -> None:
        """For a SQLite store: raise :class:`RegistryUnavailableError` when its file is
        missing; reconnect when the file at its path is not the one read before."""
        if self._database is None:
            return
        try:
            found = self._database.stat()
        except FileNotFoundError:
            had_read_it = self._identity is not None
            self._disconnect()  # let go of the vanished file rather than read it on
            what = "no longer exists (deleted or moved away)" if had_read_it else "does not exist"
            raise RegistryUnavailableError(
                f"the model registry database {self._database} {what}; restore it there, or "
                "point MLFLOW_TRACKING_URI at the store's new place and restart. The models "
                "already loaded keep serving"
            ) from None
        identity = (found.st_dev, found.st_ino)
        if self._identity is not None and identity != self._identity:
            self._disconnect()  # a new file at the same path (a restore): open that one
        self._identity = identity

    def _disconnect(self) -> None:
        """Close every pooled connection to this store, so the next read opens the file now
        at its path. MLflow keeps one engine per URI for the whole process (a class-level
        map), so a new client alone would reuse connections to the old file; the lookup
        below creates nothing when the engine does not exist."""
        from mlflow.store.model_registry.sqlalchemy_store import (
            SqlAlchemyStore as RegistryStore,
        )
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

        for store_class in (TrackingStore, RegistryStore):
            for uri in {self.tracking_uri, self.registry_uri}:
                engine = store_class._engine_map.get(uri)
                if engine is not None:
                    engine.dispose()
        self._client = None
        self._identity = None

    def by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version of registered model ``name`` that ``alias`` points at; None when the
        model or the alias does not exist; :class:`RegistryUnavailableError` when the
        registry cannot be read."""
        return version_by_alias(self.client, name, alias)

    def info(self, name: str, alias: str) -> VersionInfo | None:
        """Registry facts about the version ``alias`` points at (None when unset): when it
        was registered, its run's metrics, its data/code and gate tags."""
        mv = self.by_alias(name, alias)
        return None if mv is None else self._facts(mv)

    def version_info(self, name: str, version: str) -> VersionInfo:
        """Registry facts about version ``version`` of ``name`` (:class:`ConfigError` when
        there is no such version)."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            raise ConfigError(f"{name} has no version {version} in {self._where()}") from exc
        return self._facts(mv)

    def _facts(self, mv: ModelVersion) -> VersionInfo:
        from mlflow.exceptions import MlflowException

        scores: dict[str, float] = {}
        if mv.run_id:
            try:
                scores = dict(self.client.get_run(mv.run_id).data.metrics)
            except MlflowException:
                scores = {}
        tags = dict(mv.tags)
        return VersionInfo(
            version=str(mv.version),
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(),
            run_id=mv.run_id,
            data={k: v for k, v in tags.items() if k.startswith(("data.", "code."))},
            scores=scores,
            gate={k: v for k, v in tags.items() if k.startswith("gate.")},
        )

    def load_version(self, name: str, version: str) -> PyFuncModel:
        """Version ``version`` of ``name`` as a pyfunc model (what ``load_model`` gives),
        once its downloaded files match the hash recorded at registration
        (:class:`UnverifiedModelError` otherwise, before anything is unpickled)."""
        from mlflow.exceptions import MlflowException

        try:
            registered = self.client.get_model_version(name, str(version))
            source = self.client.get_model_version_download_uri(name, str(version))
        except MlflowException as exc:
            raise ConfigError(f"{name} has no version {version} in {self._where()}") from exc
        return self._load(source, registered.tags.get(MODEL_HASH_TAG), f"{name} v{version}")

    def load_reference(self, reference: str) -> PyFuncModel:
        """A model by MLflow reference: ``models:/<name>@<alias>``, ``models:/<name>/<version>``
        or ``runs:/<run id>/<path>`` of a registered version, looked up in this store and
        verified as :meth:`load_version` does. ConfigError if not found."""
        run_reference = _RUN_REFERENCE.match(reference)
        if run_reference is not None:
            name, version = self._registered_as(run_reference["run_id"], run_reference["path"])
            return self.load_version(name, version)
        match = _MODEL_REFERENCE.match(reference)
        if match is None:
            raise ConfigError(
                f"'{reference}' is not an MLflow model reference such as "
                "models:/ordercast-risk@champion, models:/ordercast-risk/3 or runs:/<run id>/model"
            )
        name, alias, version = match["name"], match["alias"], match["version"]
        if alias is not None:
            found = self.by_alias(name, alias)
            if found is None:
                raise ConfigError(f"{name} has no '{alias}' version in {self._where()}")
            version = str(found.version)
        return self.load_version(name, version)

    def load_core(self, kind: str, version: str) -> AnyCore:
        """The domain object of ``kind``'s version ``version`` (``unwrap_python_model().core``).

        Raises TypeError when the model holds no core of that kind.
        """
        model = self.load_version(model_name(kind), version)
        core = getattr(model.unwrap_python_model(), "core", None)
        if fits_kind(kind, core) and isinstance(core, DemandCore | CapacityCore | RiskCore):
            return core
        found = "nothing" if core is None else f"a {type(core).__name__}"
        raise TypeError(
            f"{model_name(kind)} v{version} holds {found} as its core, not a {kind} model"
        )

    def _registered_as(self, run_id: str, path: str) -> tuple[str, str]:
        """The registered model name and version logged at ``path`` of run ``run_id``: only a
        registered version has a recorded hash to check its files against."""
        for found in self.client.search_model_versions(f"run_id='{run_id}'"):
            if str(found.source).rstrip("/").endswith("/" + path.strip("/")):
                return found.name, str(found.version)
        raise ConfigError(
            f"runs:/{run_id}/{path} is not a registered model version in {self._where()}, so "
            "there is no recorded hash to check its files against before unpickling them; "
            "use a models:/ reference to a version that `ordercast train` registered"
        )

    def _load(self, artifact_uri: str, expected_hash: str | None, what: str) -> PyFuncModel:
        # Downloaded with this reader's store (explicit URIs, no globals), checked against the
        # hash recorded at registration, then loaded from the local copy: what is unpickled
        # is exactly what was hashed. The copy can go once loaded, the core is in memory.
        import mlflow.artifacts
        import mlflow.pyfunc

        with tempfile.TemporaryDirectory(prefix="ordercast-model-") as folder:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri,
                dst_path=folder,
                tracking_uri=self.tracking_uri,
                registry_uri=self.registry_uri,
            )
            verify_package(Path(local), expected_hash, what)
            return mlflow.pyfunc.load_model(local)

    def _where(self) -> str:
        return f"the registry at {self.tracking_uri}"
