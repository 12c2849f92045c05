"""``ordercast ingest`` exit codes, and ``ordercast train`` reading the store by default."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ordercast.cli import main
from store.database import OrderStore
from store.orders import count_lines


@pytest.fixture()
def cli_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", store_url)
    return store_url


def test_ingest_prints_what_changed_and_exits_0_then_2_when_refused(
    cli_store: str,
    history: pd.DataFrame,
    history_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ingest", str(history_csv)]) == 0
    assert f"{len(history):,} new" in capsys.readouterr().out
    assert main(["ingest", str(history_csv)]) == 0
    assert "nothing changed (already ingested)" in capsys.readouterr().out

    bad = history.copy()
    bad.loc[0, "quantity"] = -3
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["ingest", str(tmp_path / "bad.csv")]) == 2
    captured = capsys.readouterr()
    assert "refused, nothing landed" in captured.out
    assert "line 2, column 'quantity'" in captured.out
    assert main(["ingest", str(tmp_path / "missing.csv")]) == 2

    store = OrderStore.open(cli_store)
    try:
        assert count_lines(store) == len(history)
    finally:
        store.dispose()


def test_train_reads_the_order_store_when_no_data_is_given(
    cli_store: str, history_csv: Path, history: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(history_csv)]) == 0
    capsys.readouterr()
    assert main(["train", "capacity", "--dry-run"]) == 0
    assert f"dry run: {len(history):,} valid order lines" in capsys.readouterr().out
