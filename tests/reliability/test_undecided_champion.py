"""A champion alias on a version without a gate decision (#16): a training killed between
moving the alias and writing its decision, or one finishing now. The service does not serve
it: it keeps the version it serves, or at start-up serves the one the alias held before."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.registry import RealRegistry
from tests.reliability.test_store_faults import served_version
from training import registry

NAME = registry.model_name("demand")


def _move_alias_undecided(store: RealRegistry, version: str, previous: str) -> None:
    """What the gate writes before its decision: the facts, then the alias (no decision)."""
    store.client.set_model_version_tag(NAME, version, registry.PREVIOUS_CHAMPION_TAG, previous)
    store.client.set_registered_model_alias(NAME, registry.CHAMPION, version)


def test_an_undecided_champion_is_not_served(tmp_path: Path) -> None:
    store = RealRegistry(tmp_path)
    store.promote("demand", store.register_demand(1.0))
    undecided = store.register_demand(2.0)
    _move_alias_undecided(store, undecided, "1")

    # At start-up: the version the alias held before the interrupted gate.
    with TestClient(create_app(store.settings, kinds=("demand",), poll=False)) as client:
        assert client.get("/ready").status_code == 200
        assert served_version(client) == "1"
        assert client.post("/v1/admin/reload").json()["models"] == {"demand": "1"}
        # The gate's last write lands: now it is a champion, and the next reload serves it.
        store.client.set_model_version_tag(NAME, undecided, registry.DECISION_TAG, "promoted")
        assert client.post("/v1/admin/reload").json()["models"] == {"demand": undecided}
        assert served_version(client) == undecided


def test_an_undecided_first_champion_leaves_the_service_not_ready_saying_why(
    tmp_path: Path,
) -> None:
    store = RealRegistry(tmp_path)
    first = store.register_demand(1.0)
    _move_alias_undecided(store, first, "")
    with TestClient(create_app(store.settings, kinds=("demand",), poll=False)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "no gate decision" in ready.json()["errors"]["demand"]
        assert "ordercast train demand" in ready.json()["errors"]["demand"]
