"""The loaded champion models: one immutable snapshot, swapped whole.

A request takes the snapshot once at its start and is answered entirely by it, so a
swap (new champion, reload) never mixes versions inside one response. A failed load
keeps the old version serving and is reported by ``/ready``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Generic, TypeGuard, TypeVar

from forecasting.cores import AnyCore, CapacityCore, DemandCore, RiskCore
from training.serving import KINDS, RegistryUnavailableError, VersionInfo, fits_kind

logger = logging.getLogger(__name__)

CoreT = TypeVar("CoreT", bound=AnyCore, covariant=True)


@dataclass(frozen=True)
class LoadedModel(Generic[CoreT]):
    """One kind's champion in memory: the domain object and where it came from.

    Its core is checked against its kind's protocol when it is made (TypeError if it does
    not fit), so :func:`is_demand` and its siblings can go by ``kind`` alone.
    """

    kind: str
    version: str
    core: CoreT
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    champion: VersionInfo | None = None
    challenger: VersionInfo | None = None

    def __post_init__(self) -> None:
        if not fits_kind(self.kind, self.core):
            raise TypeError(f"a {type(self.core).__name__} cannot serve as a {self.kind} model")

    def with_registry(
        self, champion: VersionInfo | None, challenger: VersionInfo | None
    ) -> LoadedModel[CoreT]:
        """The same loaded core with fresher registry facts (no reload)."""
        return dataclasses.replace(self, champion=champion, challenger=challenger)


Served = LoadedModel[AnyCore]  # a loaded model of some kind


def is_demand(loaded: Served) -> TypeGuard[LoadedModel[DemandCore]]:
    return loaded.kind == "demand"


def is_capacity(loaded: Served) -> TypeGuard[LoadedModel[CapacityCore]]:
    return loaded.kind == "capacity"


def is_risk(loaded: Served) -> TypeGuard[LoadedModel[RiskCore]]:
    return loaded.kind == "risk"


@dataclass(frozen=True)
class Snapshot:
    """Every kind's loaded model at one moment, plus the last load error per kind.

    ``unreadable`` lists the kinds whose registry could not be read at the last check
    (unreachable, damaged, deleted): their loaded models still serve, but the service is
    not ready, since it can no longer follow promotions. A version that fails to load from
    a readable registry is only listed in ``errors``: the old one serves on, as meant.
    """

    kinds: tuple[str, ...] = KINDS
    models: Mapping[str, Served] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    checked_at: datetime | None = None
    unreadable: frozenset[str] = frozenset()

    @property
    def ready(self) -> bool:
        return not self.unreadable and all(kind in self.models for kind in self.kinds)

    @property
    def waiting_for(self) -> list[str]:
        return [kind for kind in self.kinds if kind not in self.models]


# Given a kind and the model served now (or None), return the model to serve: the same
# object when the champion is unchanged, a new LoadedModel after a (re)load. Raises when
# the champion cannot be found or loaded; the store then keeps serving the old one.
Loader = Callable[[str, Served | None], Served]


class ModelStore:
    """Holds the current :class:`Snapshot`; ``refresh`` loads changed champions.

    Readers only read ``snapshot`` (one attribute read, atomic in CPython) and never
    wait; refreshes are serialised by a lock so two reloads cannot interleave.
    """

    def __init__(
        self, loader: Loader, kinds: Sequence[str] = KINDS, source: str = "the model loader"
    ) -> None:
        self._loader = loader
        self._kinds = tuple(kinds)
        # Until the first check answers, /ready says what it waits for: a registry that does
        # not answer for minutes must not look like one that answered "nothing here".
        pending = f"not loaded yet: waiting for {source} to answer"
        self._snapshot = Snapshot(
            kinds=self._kinds, errors=MappingProxyType(dict.fromkeys(self._kinds, pending))
        )
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self) -> Snapshot:
        """Load every kind whose champion changed; keep the old model when a load fails."""
        snapshot, changed, replaced = self._reload()
        if changed:  # once the old snapshot is no longer held here
            _settle_heap(replaced)
        return snapshot

    def _reload(self) -> tuple[Snapshot, bool, list[weakref.ref[object] | None]]:
        with self._lock, _switch_interval.lowered():
            current = self._snapshot
            models, errors = dict(current.models), {}
            unreadable: set[str] = set()
            changed = False
            replaced: list[weakref.ref[object] | None] = []  # None: cannot be watched
            for kind in self._kinds:
                served = current.models.get(kind)
                try:
                    loaded = self._loader(kind, served)
                except Exception as exc:  # any failure to load must not stop serving
                    logger.warning("could not load the %s champion: %s", kind, exc)
                    errors[kind] = f"{type(exc).__name__}: {exc}"[:2000]
                    if isinstance(exc, RegistryUnavailableError):
                        unreadable.add(kind)
                    continue
                if served is None or loaded.version != served.version:
                    logger.info("serving %s v%s", kind, loaded.version)
                    changed = True
                    if served is not None:
                        replaced.append(_watch(served.core))
                models[kind] = loaded
            # One reference assignment: a request sees the old snapshot or the new, whole.
            self._snapshot = Snapshot(
                kinds=self._kinds,
                models=MappingProxyType(models),  # read-only once published
                errors=MappingProxyType(errors),
                checked_at=datetime.now(UTC),
                unreadable=frozenset(unreadable),
            )
            return self._snapshot, changed, replaced


class Poller:
    """Refreshes a :class:`ModelStore` now and then every ``seconds``, in a thread of its
    own: the server listens before the first load ends, and a registry that is down at
    start or later is retried at each tick until it answers (``/ready`` recovers by itself).

    A daemon thread rather than the event loop's thread pool: a registry call can hang for
    minutes (MLflow retries an unreachable server), and neither shutdown nor the pool's
    workers, which serve requests, should wait on it.
    """

    def __init__(self, store: ModelStore, seconds: float) -> None:
        self._store = store
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ordercast-registry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end after its current check (not waited for)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._store.refresh()
            except Exception:  # the poller must outlive anything; refresh logs the details
                logger.exception("registry poll failed")
            self._stop.wait(self._seconds)


# How often a thread holding the GIL hands it over while models load (CPython's default
# is every 5 ms). joblib unpickles a model in pure Python (0.3 s of bytecode for the demo's
# demand model), and a request waiting on the loading thread waits up to the interval at
# every hand-over it needs: p99 within 1 s of a swap 25 ms at the default, 7.6 ms at this
# (benchmarks/soak.py --seconds 180 --swap-every 10, 200 req/s, quiet machine).
LOADING_SWITCH_INTERVAL = 0.0005


class _SwitchInterval:
    """The interpreter's switch interval, lowered while any store loads. It is one setting
    for the whole process while each store has its own lock: two stores' loads (two apps in
    one process, a notebook's) could interleave, and the second would restore the first's
    lowered value, leaving the process at it. The first load in saves the interval, the
    last one out restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loads = 0
        self._saved = 0.0  # the interval before the first load in, set as it enters

    @contextlib.contextmanager
    def lowered(self) -> Iterator[None]:
        """:data:`LOADING_SWITCH_INTERVAL` for the block, restored once no load is left."""
        with self._lock:
            if self._loads == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(LOADING_SWITCH_INTERVAL)
            self._loads += 1
        try:
            yield
        finally:
            with self._lock:
                self._loads -= 1
                if self._loads == 0:
                    sys.setswitchinterval(self._saved)


_switch_interval = _SwitchInterval()


# How long a swap waits for requests still holding the old snapshot before it decides the
# replaced model is kept alive by a reference cycle.
IN_FLIGHT_GRACE_SECONDS = 1.0


def _watch(core: object) -> weakref.ref[object] | None:
    try:
        return weakref.ref(core)
    except TypeError:  # a core without weak reference support: assume the worst
        return None


def _settle_heap(replaced: Sequence[weakref.ref[object] | None]) -> None:
    """Collect what the last load left behind, then exempt the loaded models from the
    garbage collector's full passes.

    Loaded models hold many objects, and a full collection walks every one: the
    server measured pauses of up to 225 ms, which a forecast request waiting behind one
    feels as its whole latency. So loaded models are frozen (still freed by reference
    counting). A collection that walks the frozen heap (unfreeze, collect, freeze) holds
    the interpreter for as long, and stalled every request at each swap (0.44-0.76 s), so
    it runs only when it is needed: when a replaced model outlives the requests that held
    it (a reference cycle only the full pass can free). Otherwise only what is not frozen,
    the new model and the load's leftovers, is walked: at a server's first load that is
    the whole heap, as nothing is frozen yet; in a process that builds app after app (the
    test suite, a notebook) it is not, where unfreezing at every first load walked all
    that the earlier apps had frozen (2.5 s an app late in a test worker, against 0.3 s).
    """
    deadline = time.monotonic() + IN_FLIGHT_GRACE_SECONDS
    while _alive(replaced) and time.monotonic() < deadline:
        time.sleep(0.01)  # requests that took the old snapshot are finishing
    if _alive(replaced):
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def _alive(replaced: Sequence[weakref.ref[object] | None]) -> bool:
    return any(ref is None or ref() is not None for ref in replaced)
