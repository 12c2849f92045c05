"""Champion swaps on a live uvicorn server over a real MLflow registry.

While threads keep asking for forecasts, a new version is registered, promoted and
reloaded: no request may fail and every response must come wholly from one version
(its values match the version named in it). A broken champion keeps the old one serving.
"""

from __future__ import annotations

import threading
import time

import httpx

from api.main import create_app
from tests.api.conftest import live_server
from tests.api.registry import RealRegistry

SERIES = [("SKU-1", "SITE-A", 1), ("SKU-1", "SITE-B", 2), ("SKU-2", "SITE-B", 4)]


def expected_means(number: int, version: str, horizon: int) -> list[float]:
    # tests.api.fakes.demand_core: mean = 10 * series number + step + offset; the store
    # registers offset == version number.
    return [10.0 * number + step + float(version) for step in range(horizon)]


def test_hot_swap_under_concurrent_requests(demand_store: RealRegistry) -> None:
    app = create_app(demand_store.settings, kinds=("demand",), poll=False)
    seen: list[tuple[int, str | None, bool]] = []
    stop = threading.Event()
    lock = threading.Lock()

    with live_server(app) as url:

        def hammer(worker: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                i = worker
                while not stop.is_set():
                    sku, site, number = SERIES[i % len(SERIES)]
                    i += 1
                    r = http.post(
                        "/v1/forecasts/demand", json={"sku": sku, "site": site, "horizon": 4}
                    )
                    body = r.json()
                    version = body.get("model_version")
                    whole = r.status_code == 200 and [p["mean"] for p in body["points"]] == (
                        expected_means(number, version, 4)
                    )
                    with lock:
                        seen.append((r.status_code, version, whole))

        threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        try:
            new = demand_store.register_demand(2.0)  # requests keep flowing meanwhile
            demand_store.promote("demand", new)
            with httpx.Client(base_url=url, timeout=60) as http:
                reload = http.post("/v1/admin/reload").json()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # let requests run on the new version too
                with lock:
                    after = sum(1 for _, version, _ in seen if version == new)
                if after >= 20:
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    assert reload["models"] == {"demand": new} and reload["errors"] == {}
    assert len(seen) > 40, "too few requests overlapped the swap"
    assert all(status == 200 for status, _, _ in seen), {s for s, _, _ in seen}
    assert {version for _, version, _ in seen} == {"1", new}
    assert all(whole for _, _, whole in seen), "a response mixed or mislabelled versions"


def test_a_failed_load_keeps_the_old_version_serving(demand_store: RealRegistry) -> None:
    app = create_app(demand_store.settings, kinds=("demand",), poll=False)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        broken = demand_store.register_broken("demand")
        demand_store.promote("demand", broken)
        reload = http.post("/v1/admin/reload").json()
        assert reload["models"] == {"demand": "1"}
        assert "demand" in reload["errors"]
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["models"] == {"demand": "1"}
        assert ready.json()["errors"]["demand"] == reload["errors"]["demand"]
        forecast = http.post(
            "/v1/forecasts/demand", json={"sku": "SKU-1", "site": "SITE-A", "horizon": 2}
        )
        assert forecast.status_code == 200
        assert forecast.json()["model_version"] == "1"
        assert [p["mean"] for p in forecast.json()["points"]] == expected_means(1, "1", 2)


def test_the_poller_picks_up_a_promotion(demand_store: RealRegistry) -> None:
    api = demand_store.settings.api.model_copy(update={"poll_seconds": 0.3})
    settings = demand_store.settings.model_copy(update={"api": api})
    app = create_app(settings, kinds=("demand",), poll=True)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        new = demand_store.register_demand(2.0)
        demand_store.promote("demand", new)
        deadline = time.monotonic() + 60
        served = None
        while time.monotonic() < deadline and served != new:
            served = http.get("/ready").json()["models"].get("demand")
            time.sleep(0.1)
        assert served == new
        forecast = http.post("/v1/forecasts/demand", json={"level": "total", "horizon": 1})
        assert forecast.json()["model_version"] == new
