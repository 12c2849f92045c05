"""Planner adjustments in the order store (#18), on SQLite and PostgreSQL: kept with their
audit trail, revoked without being erased, expired when their periods pass, and re-applied
to a new statistical forecast (a refresh or retraining) with their values kept."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.adjustments import apply_adjustments
from forecasting.errors import ConfigError
from ordercast.cli import main
from store.adjustments import (
    close_adjustment,
    read_adjustments,
    read_events,
    read_values,
    record_values,
    save_adjustment,
)
from store.database import OrderStore
from tests.demand.test_adjustments import BOTTOM, DATES, adj, make_model
from training.adjustments import reapply, stored_adjustments


def _values(model, adjustment) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    applied = apply_adjustments(model, [adjustment]).applied
    return applied[applied["adjustment_id"] == adjustment.id]


def test_an_adjustment_is_kept_with_its_create_event_and_values(store: OrderStore) -> None:
    model = make_model()
    site = adj("s1", level="site", series_id="S1", start=str(DATES[1].date()), value=30.0)
    save_adjustment(store, site, _values(model, site))

    (back,) = stored_adjustments(store)
    # every field round-trips; times come back in UTC
    assert back == dataclasses.replace(site, created_at=site.created_at.tz_localize("UTC"))
    (event,) = read_events(store).to_dict("records")
    assert event["event"] == "create" and event["author"] == "ana"
    assert event["before"] == [
        {"ds": str(DATES[1].date()), "value": 50.0}
    ]  # S1 at week 2: 20 + 20 + 10
    assert event["after"] == [{"ds": str(DATES[1].date()), "value": 80.0}]
    kept = read_values(store)
    assert kept[["statistical", "adjusted"]].to_numpy().tolist() == [[50.0, 80.0]]


def test_a_revoke_is_audited_and_erases_nothing(store: OrderStore) -> None:
    model = make_model()
    one = adj("b1", value=5.0)
    save_adjustment(store, one, _values(model, one))
    close_adjustment(store, "b1", "revoked", "lead-planner", read_values(store))

    assert stored_adjustments(store) == []  # no longer active ...
    (row,) = read_adjustments(store).to_dict("records")  # ... but still there
    assert row["status"] == "revoked" and row["closed_by"] == "lead-planner"
    events = read_events(store, "b1")
    assert events["event"].tolist() == ["create", "revoke"]
    assert events["author"].tolist() == ["ana", "lead-planner"]
    # the revoke's before is the adjusted value, its after the statistical one
    assert events["before"].iloc[1][0]["value"] == 25.0
    assert events["after"].iloc[1][0]["value"] == 20.0
    with pytest.raises(ConfigError, match="already revoked"):
        close_adjustment(store, "b1", "revoked", "lead-planner", read_values(store))
    with pytest.raises(ConfigError, match="no adjustment with id nope"):
        close_adjustment(store, "nope", "revoked", "lead-planner", read_values(store))


def test_values_change_only_for_periods_not_yet_begun(store: OrderStore) -> None:
    model = make_model()
    one = adj("c1", start=str(DATES[0].date()), end=str(DATES[3].date()), value=1.0)
    save_adjustment(store, one, _values(model, one))
    later = _values(model, one).assign(statistical=100.0, adjusted=101.0)
    assert record_values(store, later, origin=DATES[1]) == 2  # weeks 3 and 4 only
    kept = read_values(store).set_index("ds")
    assert kept.loc[DATES[0], "statistical"] == 10.0 and kept.loc[DATES[1], "statistical"] == 20.0
    assert kept.loc[DATES[2], "statistical"] == 100.0 and kept.loc[DATES[3], "adjusted"] == 101.0


def test_a_new_statistical_forecast_keeps_adjustments_and_names_the_orphans(
    store: OrderStore, caplog: pytest.LogCaptureFixture
) -> None:
    model = make_model()
    on_a = adj("d1", series_id="A|S1", start=str(DATES[2].date()), kind="set", value=99.0)
    on_c = adj("d2", series_id="C|S2", start=str(DATES[2].date()), value=3.0, minute=1)
    for adjustment in (on_a, on_c):
        save_adjustment(store, adjustment, _values(model, adjustment))

    # A retrained model: new numbers, and C|S2 is no longer a series.
    bottom = {k: list(np.array(v) * 2) for k, v in BOTTOM.items() if k != "C|S2"}
    retrained = make_model(bottom)
    with caplog.at_level(logging.WARNING):
        again = reapply(store, retrained)
    assert again.model.paths["sku,site"]["A|S1"].mean[2] == 99.0  # re-applied to the new one
    assert list(again.orphaned["adjustment_id"]) == ["d2"]
    assert "d2 by ana on sku,site C|S2 no longer applies" in caplog.text
    kept = read_values(store).set_index(["adjustment_id", "ds"])
    assert kept.loc[("d1", DATES[2]), "statistical"] == 60.0  # the new statistical value


def test_adjustments_whose_periods_passed_expire_by_ordercast(store: OrderStore) -> None:
    model = make_model()
    early = adj("e1", start=str(DATES[0].date()), value=2.0)
    save_adjustment(store, early, _values(model, early))
    # A refresh a week later serves from the second week on: week one has passed.
    shifted = make_model()
    for paths in shifted.paths.values():
        for series_id, path in list(paths.items()):
            paths[series_id] = type(path)(  # type: ignore[index]
                ds=path.ds + np.timedelta64(7, "D"),
                model=path.model,
                mean=path.mean,
                quantiles=path.quantiles,
            )
    reapply(store, shifted)
    (row,) = read_adjustments(store).to_dict("records")
    assert row["status"] == "expired" and row["closed_by"] == "ordercast"
    assert read_events(store, "e1")["event"].tolist() == ["create", "expire"]
    assert not read_values(store).empty  # kept for forecast value added


def test_the_cli_lists_and_exports_adjustments_and_their_audit_trail(
    store: OrderStore,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", store_url)
    model = make_model()
    kept, gone = adj("f1", value=4.0), adj("f2", series_id="B|S2", value=1.0)
    for adjustment in (kept, gone):
        save_adjustment(store, adjustment, _values(model, adjustment))
    close_adjustment(store, "f2", "revoked", "lead-planner", read_values(store))

    assert main(["adjustments", "list"]) == 0
    listed = capsys.readouterr().out
    assert "f1" in listed and "f2" not in listed
    assert main(["adjustments", "list", "--all"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["adjustments", "export", "--out", str(tmp_path / "all.csv")]) == 0
    exported = pd.read_csv(tmp_path / "all.csv")
    assert exported.set_index("id")["status"].to_dict() == {"f1": "active", "f2": "revoked"}
    assert main(["adjustments", "export", "--events", "--out", str(tmp_path / "ev.csv")]) == 0
    trail = pd.read_csv(tmp_path / "ev.csv")
    assert trail["event"].tolist() == ["create", "create", "revoke"]
    assert main(["accuracy", "--fva"]) == 2  # no actuals in this store: says so, exit 2
    assert "has a complete period" in capsys.readouterr().err
