"""The scheduler's contract, against a real embedded MLflow store and a real mlflow server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from filelock import FileLock
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ordercast.cli import main
from tests.mlflow_stores import empty_store
from tests.training.conftest import champion_artifacts, write_config


def train(history: Path, config: Path, *extra: str) -> int:
    return main(["train", "demand", "--data", str(history), "--config", str(config), *extra])


def aliases(uri: str) -> dict[str, str]:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = {}
    for alias in ("champion", "challenger"):
        try:
            found[alias] = str(client.get_model_version_by_alias("ordercast-demand", alias).version)
        except MlflowException:  # no version holds this alias
            continue
    return found


def versions(uri: str) -> list[str]:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = client.search_model_versions("name='ordercast-demand'")
    return sorted(str(v.version) for v in found)


def test_gate_lifecycle_on_the_embedded_store(history_file: Path, store: Path) -> None:
    uri = empty_store(store / "mlflow.db")
    config = write_config(store, uri)
    assert train(history_file, config) == 0
    assert aliases(uri) == {"champion": "1", "challenger": "1"}
    artifacts = champion_artifacts(uri, "demand")
    assert {
        "reports/backtest.csv",
        "reports/backtest-summary.csv",
        "reports/selection.csv",
        "reports/data-validation.json",
        "plots/forecasts.png",
    } <= set(artifacts)
    profile = json.loads(artifacts["reports/data-validation.json"].read_text())
    assert profile["rows"] == len(pd.read_csv(history_file))
    assert profile["rows_dropped"] == 0
    selection = pd.read_csv(artifacts["reports/selection.csv"])
    assert {"series_id", "model", "score"} <= set(selection.columns)

    # Same data, same configuration: nothing to do, nothing registered.
    assert train(history_file, config) == 0
    assert versions(uri) == ["1"]

    # A worse recipe is trained, registered as challenger, and not promoted.
    worse = write_config(store, uri, models="naive")
    assert train(history_file, worse) == 3
    assert aliases(uri) == {"champion": "1", "challenger": "2"}
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version("ordercast-demand", "2").tags
    assert tags["gate.decision"] == "rejected"
    assert float(tags["gate.score"]) > float(tags["gate.champion_score"])

    # Again: up to date (the gate kept it on this data). --force retrains and the gate keeps
    # it out again; --promote promotes it anyway; rollback returns to the previous champion.
    assert train(history_file, worse) == 3
    assert versions(uri) == ["1", "2"]
    assert train(history_file, worse, "--force", "--promote") == 0
    assert aliases(uri)["champion"] == "3"
    assert main(["models", "rollback", "demand", "--config", str(config)]) == 0
    assert aliases(uri)["champion"] == "1"
    assert main(["models", "promote", "demand", "2", "--config", str(config)]) == 0
    assert aliases(uri)["champion"] == "2"


def test_registered_model_loads_in_a_fresh_process(history_file: Path, store: Path) -> None:
    uri = empty_store(store / "mlflow.db")
    assert train(history_file, write_config(store, uri)) == 0
    script = (
        "import json, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        "m = mlflow.pyfunc.load_model('models:/ordercast-demand@champion')\n"
        "core = m.unwrap_python_model().core\n"
        "sku, site = next(iter(core.paths['sku,site'])).split('|')\n"
        "out = m.predict(pd.DataFrame({'sku': [sku, ''], 'site': [site, site], 'channel': ['', ''],"
        " 'level': ['', ''], 'horizon': [3, 2], 'quantiles': ['0.1,0.5,0.9', '0.5']}))\n"
        "print(json.dumps({'rows': len(out), 'cols': list(out.columns),"
        " 'ordered': bool((out['q10'].dropna() <= out['q90'].dropna()).all())}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=store
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == 5
    assert {"series_id", "ds", "mean", "q10", "q50", "q90"} <= set(result["cols"])
    assert result["ordered"]


def test_bad_data_exits_2_and_registers_nothing(tmp_path: Path, store: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "order_id,line_id,sku,site,order_date,promised_date,delivered_date,quantity\n"
        "o1,l1,S,A,2024-01-02,2024-01-05,,-3\n"
    )
    uri = f"sqlite:///{store / 'mlflow.db'}"
    assert train(bad, write_config(store, uri)) == 2
    assert versions(uri) == []


def test_dry_run_writes_nothing(history_file: Path, store: Path) -> None:
    uri = f"sqlite:///{store / 'sub' / 'mlflow.db'}"
    assert train(history_file, write_config(store, uri), "--dry-run") == 0
    assert not (store / "sub").exists()
    assert not (store / "artifacts").exists()


def test_a_second_training_waits_for_the_lock_then_exits_4(history_file: Path, store: Path) -> None:
    uri = empty_store(store / "mlflow.db")
    config = write_config(store, uri)
    (store / "locks").mkdir()
    with FileLock(str(store / "locks" / "demand.lock")):
        # The lock is held, as by a concurrent run in another process.
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "ordercast.cli",
                "train",
                "demand",
                "--data",
                str(history_file),
                "--config",
                str(config),
                "--lock-timeout",
                "1",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert code.returncode == 4, code.stderr
    assert "holds" in code.stderr
    assert versions(uri) == []


def test_two_concurrent_trainings_do_not_corrupt_the_registry(
    history_file: Path, store: Path
) -> None:
    uri = empty_store(store / "mlflow.db")
    config = write_config(store, uri)
    command = [
        sys.executable,
        "-m",
        "ordercast.cli",
        "train",
        "demand",
        "--data",
        str(history_file),
        "--config",
        str(config),
        "--force",
        "--promote",
    ]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    codes = [first.wait(timeout=240), second.wait(timeout=240)]
    assert codes == [0, 0]
    assert versions(uri) == ["1", "2"]  # serialised by the lock: two whole versions
    assert aliases(uri)["champion"] in {"1", "2"}


def test_training_against_a_real_mlflow_server(
    history_file: Path, store: Path, mlflow_server
) -> None:
    url, _ = mlflow_server
    config = write_config(store, url)
    assert train(history_file, config) == 0
    assert aliases(url)["champion"] == "1"
    worse = write_config(store, url, models="naive")
    assert train(history_file, worse) == 3
    runs = MlflowClient(url).search_runs(
        [MlflowClient(url).get_experiment_by_name("ordercast-demand").experiment_id]
    )
    assert len(runs) == 2
    tags = set(runs[0].data.tags)
    assert {"data.hash", "data.rows", "code.git_commit", "code.library", "recipe.hash"} <= tags
    assert "chosen.mase" in runs[0].data.metrics
    assert pd.notna(runs[0].data.metrics["score"])


def test_log_json_makes_every_stderr_line_json(
    tmp_path: Path, history_file: Path, store: Path
) -> None:
    """A log collector parses every line: step logs, the outcome, and errors alike."""
    uri = empty_store(store / "mlflow.db")
    config = write_config(store, uri)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "order_id,line_id,sku,site,order_date,promised_date,delivered_date,quantity\n"
        "o1,l1,S,A,2024-01-02,2024-01-05,,-3\n"
    )
    base = [sys.executable, "-m", "ordercast.cli", "--log-json", "train"]
    runs = {
        "train": (["risk", "--data", str(history_file), "--config", str(config)], 0),
        "bad": (["demand", "--data", str(bad), "--config", str(config)], 2),
    }
    for name, (args, expected) in runs.items():
        done = subprocess.run([*base, *args], capture_output=True, text=True, cwd=store)
        assert done.returncode == expected, done.stderr
        records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
        assert records, f"{name}: no log lines"
        assert done.stdout.strip() == ""
        if name == "train":
            steps = [r["step"] for r in records if "step" in r]
            # each step logs as it starts (off a terminal) and as it ends
            assert list(dict.fromkeys(steps)) == [
                "load",
                "registry",
                "evaluate",
                "fit and score",
                "log",
            ]
            assert all(steps.count(step) == 2 for step in set(steps))
            outcome = records[-1]
            assert outcome["kind"] == "risk" and outcome["exit_code"] == 0
        else:
            assert records[-1]["level"] == "error"
            assert "quantity" in records[-1]["message"]
