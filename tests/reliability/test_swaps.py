"""Champion swaps under load (#16 item 13): a new champion is loaded and answers one query
before it is swapped in, so requests during a reload are answered by the old version and
never fail, even when the new one loads but cannot answer; then by the next good one."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from api.main import create_app
from api.model_store import LoadedModel, ModelStore, Served
from tests.api.conftest import live_server
from tests.api.fakes import FakeCapacity, FakeRisk
from tests.api.registry import RealRegistry

DEADLINE_SECONDS = 120  # generous: nothing here asserts a duration
OUTLOOK = {"sites": ["SITE-A"], "horizon": 3}


class CannotAnswer(FakeCapacity):
    """A capacity model that loads fine and fails every query (a broken refit, say)."""

    def predict(
        self,
        horizon: int,
        sites: Sequence[str] | None = None,
        scenario: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        raise RuntimeError("this capacity model cannot answer")


def test_requests_during_swaps_are_answered_by_a_working_version(tmp_path: Path) -> None:
    store = RealRegistry(tmp_path)
    store.promote("capacity", store.register("capacity"))
    app = create_app(store.settings, kinds=("capacity",), poll=False)
    seen: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    stop = threading.Event()

    with live_server(app) as url:

        def ask() -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                while not stop.is_set():
                    try:
                        r = http.post("/v1/forecasts/capacity", json=OUTLOOK)
                        answer = (r.status_code, r.json().get("model_version"))
                    except httpx.HTTPError:  # a connection dropped by a failing request
                        answer = (0, None)
                    with lock:
                        seen.append(answer)

        def count(version: str) -> int:
            with lock:
                return sum(1 for _, v in seen if v == version)

        threads = [threading.Thread(target=ask) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            with httpx.Client(base_url=url, timeout=120) as admin:
                broken = store._log("capacity", CannotAnswer())
                store.promote("capacity", broken)
                refused = admin.post("/v1/admin/reload").json()
                good = store.register("capacity")
                store.promote("capacity", good)
                swapped = admin.post("/v1/admin/reload").json()
                after = admin.post("/v1/forecasts/capacity", json=OUTLOOK).json()
            deadline = time.monotonic() + DEADLINE_SECONDS
            while count(good) < 20:  # requests go on against the new version too
                assert time.monotonic() < deadline, "no request reached the new version"
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    assert refused["models"] == {"capacity": "1"}
    assert "cannot answer" in refused["errors"]["capacity"]
    assert swapped["models"] == {"capacity": good} and swapped["errors"] == {}
    assert {status for status, _ in seen} == {200}, [s for s in seen if s[0] != 200][:3]
    assert {version for _, version in seen} == {"1", good}
    assert after["model_version"] == good  # a request after the reload gets the new one


def test_a_swap_does_not_walk_the_frozen_heap() -> None:
    """The full pass over every loaded object (unfreeze, collect) held the interpreter for
    0.2 s and more at each swap; a replaced model freed by reference counting needs none."""
    versions = {"now": "1"}

    def loader(kind: str, served: Served | None) -> Served:
        if served is not None and served.version == versions["now"]:
            return served
        return LoadedModel(kind, versions["now"], FakeRisk())  # no reference cycle

    frozen_at_collections: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            frozen_at_collections.append(gc.get_freeze_count())

    store = ModelStore(loader, kinds=("risk",))
    try:
        store.refresh()  # the first load settles the whole heap once
        assert gc.get_freeze_count() > 0
        versions["now"] = "2"
        gc.callbacks.append(record)
        try:
            store.refresh()
        finally:
            gc.callbacks.remove(record)
        assert store.snapshot.models["risk"].version == "2"
        assert frozen_at_collections, "the swap collected nothing"
        assert min(frozen_at_collections) > 0, "the swap unfroze the heap for a full pass"
    finally:
        gc.unfreeze()


def test_a_second_apps_first_load_does_not_walk_the_heap_the_first_froze() -> None:
    """A process that builds app after app (the test suite, a notebook): each first load
    unfroze and walked everything the earlier ones had frozen, seconds an app late in a
    test worker. Nothing frozen is garbage unless a replaced model outlived its requests."""
    frozen_at_collections: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            frozen_at_collections.append(gc.get_freeze_count())

    def loader(kind: str, served: Served | None) -> Served:
        return served or LoadedModel(kind, "1", FakeRisk())

    try:
        ModelStore(loader, kinds=("risk",)).refresh()
        assert gc.get_freeze_count() > 0
        gc.callbacks.append(record)
        try:
            ModelStore(loader, kinds=("risk",)).refresh()
        finally:
            gc.callbacks.remove(record)
        assert frozen_at_collections, "the second first load collected nothing"
        assert min(frozen_at_collections) > 0, "the second first load unfroze the heap"
    finally:
        gc.unfreeze()
