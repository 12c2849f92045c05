"""The model store keeps loaded models out of the garbage collector's full passes, and
still frees a replaced model."""

from __future__ import annotations

import gc
import sys
import threading
import weakref

from api.model_store import LOADING_SWITCH_INTERVAL, LoadedModel, ModelStore, Served
from tests.api.fakes import FakeRisk


class Cyclic(FakeRisk):
    """A core in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_loaded_models_are_frozen_and_a_replaced_one_is_still_freed() -> None:
    versions = {"now": "1"}
    cores: dict[str, weakref.ref[Cyclic]] = {}

    def loader(kind: str, served: Served | None) -> Served:
        if served is not None and served.version == versions["now"]:
            return served
        core = Cyclic()
        cores[versions["now"]] = weakref.ref(core)
        return LoadedModel(kind, versions["now"], core)

    store = ModelStore(loader, kinds=("risk",))
    try:
        store.refresh()
        assert gc.get_freeze_count() > 0  # the loaded model is exempt from full passes
        first = cores["1"]
        store.refresh()  # same version: nothing loaded
        assert first() is not None
        versions["now"] = "2"
        store.refresh()
        # Version 1 is out of the snapshot and only its own cycle holds it: collected at
        # this load, though it had been frozen.
        assert first() is None
        assert store.snapshot.models["risk"].core is cores["2"]()
    finally:
        gc.unfreeze()


def test_models_load_with_a_short_switch_interval_and_it_is_restored() -> None:
    # joblib unpickles in Python bytecode: a loading thread that kept the GIL for CPython's
    # default 5 ms at a time stalled the requests waiting on it (p99 near swaps 25 ms
    # against 7.6 ms with the short interval, benchmarks/soak.py).
    seen: list[float] = []

    def loader(kind: str, served: Served | None) -> Served:
        seen.append(sys.getswitchinterval())
        if kind == "capacity":
            raise OSError("artifact store unreachable")
        return LoadedModel(kind, "1", FakeRisk())

    before = sys.getswitchinterval()
    store = ModelStore(loader, kinds=("risk", "capacity"))
    try:
        store.refresh()
    finally:
        gc.unfreeze()
    assert seen == [LOADING_SWITCH_INTERVAL, LOADING_SWITCH_INTERVAL]
    assert before > LOADING_SWITCH_INTERVAL
    # Restored after the load, the failed one included.
    assert sys.getswitchinterval() == before
    assert store.snapshot.errors["capacity"].startswith("OSError")


def test_two_stores_loading_at_once_leave_the_interval_as_it_was() -> None:
    """Each store has its own lock, the switch interval is the process's: store A enters its
    load, B enters, A leaves, B leaves. B had saved A's lowered value and restored it, and
    the process stayed at 0.5 ms for good."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def loader_a(kind: str, served: Served | None) -> Served:
        a_in.set()
        assert b_in.wait(30), "store B never started loading"
        return LoadedModel(kind, "1", FakeRisk())

    def loader_b(kind: str, served: Served | None) -> Served:
        b_in.set()
        assert a_out.wait(30), "store A never finished loading"
        return LoadedModel(kind, "1", FakeRisk())

    before = sys.getswitchinterval()
    store_b = ModelStore(loader_b, kinds=("risk",))
    thread_b = threading.Thread(target=store_b.refresh)
    try:
        store_a = ModelStore(loader_a, kinds=("risk",))
        loading_a = threading.Thread(target=store_a.refresh)
        loading_a.start()
        assert a_in.wait(30)
        thread_b.start()
        loading_a.join(30)
        assert not loading_a.is_alive()
        assert sys.getswitchinterval() == LOADING_SWITCH_INTERVAL  # B is still loading
        a_out.set()
        thread_b.join(30)
        assert not thread_b.is_alive()
    finally:
        a_out.set()
        gc.unfreeze()
    assert store_a.snapshot.models["risk"].version == "1"
    assert store_b.snapshot.models["risk"].version == "1"
    assert sys.getswitchinterval() == before
