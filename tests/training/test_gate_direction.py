"""The promotion gate promotes a challenger only when it beats the champion on the same
evaluation window, and says which way its scores go (lower is better) and both scores: in
the outcome line, the version's and the run's tags, and `ordercast models list` (#22 item 4).

The gate itself is driven with real registry versions in a temp SQLite store, where the
scores are chosen; the CLI with capacity trainings (the fastest kind) on a real history.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from forecasting.errors import DataContractError
from ordercast.cli import main
from tests.mlflow_stores import empty_store
from tests.training.conftest import write_config
from training import registry
from training.pipelines.common import champion_on_window
from training.pipelines.demand import choices_score

NAME = "ordercast-demand"
WINDOW = "data 0123456789abcdef to 2024-06-28"


def said(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed, on one line (help panels wrap and frame their text)."""
    return " ".join(capsys.readouterr().out.replace("│", " ").split())


@pytest.fixture()
def client(tmp_path: Path) -> MlflowClient:
    uri = empty_store(tmp_path / "mlflow.db")
    found = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found.create_registered_model(NAME)
    return found


def new_version(client: MlflowClient, tmp_path: Path) -> tuple[str, str]:
    """A registered version (and its run) with no gate decision yet."""
    experiment = client.get_experiment_by_name("gate") or client.get_experiment(
        client.create_experiment("gate", artifact_location=str(tmp_path / "artifacts"))
    )
    run = client.create_run(experiment.experiment_id)
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(NAME, str(tmp_path / "model"), run.info.run_id)
    return str(version.version), run.info.run_id


def gate(
    client: MlflowClient,
    tmp_path: Path,
    score: float,
    window: str = WINDOW,
    recipe: str = "recipe-b",
    promote: bool = False,
) -> tuple[str, registry.GateDecision]:
    """Register a challenger scoring ``score`` on ``window`` and let the gate decide on it,
    as a training does."""
    champion = registry.version_by_alias(client, NAME, registry.CHAMPION)
    version, run_id = new_version(client, tmp_path)
    client.set_model_version_tag(NAME, version, "recipe.hash", recipe)
    on_window = champion_on_window(champion, window, recipe, score, lambda _: None)
    decision = registry.decide("scaled_pinball", score, on_window, 0.02, promote_anyway=promote)
    registry.record_decision(
        client,
        NAME,
        version,
        decision,
        score,
        champion,
        None if on_window is None else on_window.value,
        "scaled_pinball",
        window,
        run_id,
    )
    return version, decision


def champion_of(client: MlflowClient) -> str:
    found = registry.version_by_alias(client, NAME, registry.CHAMPION)
    return "" if found is None else str(found.version)


def test_a_worse_challenger_is_kept_out_and_the_decision_says_which_way(
    client: MlflowClient, tmp_path: Path
) -> None:
    first, decision = gate(client, tmp_path, 1.04, recipe="recipe-a")
    assert decision.promote and "lower is better" in decision.reason

    worse, decision = gate(client, tmp_path, 1.59)
    assert not decision.promote
    assert champion_of(client) == first
    for text in ("scaled_pinball", "lower is better", "1.04", "1.59", "kept champion"):
        assert text in decision.reason, text
    tags = client.get_model_version(NAME, worse).tags
    assert tags["gate.decision"] == "rejected"
    assert tags["gate.metric"] == "scaled_pinball"
    assert tags["gate.direction"] == "lower is better"
    assert float(tags["gate.champion_score"]) == pytest.approx(1.04)
    run_id = client.get_model_version(NAME, worse).run_id
    assert run_id is not None
    run = client.get_run(run_id)
    assert run.data.tags["gate.decision"] == "rejected"
    assert run.data.tags["gate.reason"] == decision.reason


def test_a_better_challenger_is_promoted(client: MlflowClient, tmp_path: Path) -> None:
    gate(client, tmp_path, 1.04, recipe="recipe-a")
    better, decision = gate(client, tmp_path, 0.91)
    assert decision.promote
    assert champion_of(client) == better
    assert "champion 1.04 → challenger 0.91" in decision.reason
    assert "lower is better" in decision.reason
    assert client.get_model_version(NAME, better).tags["gate.decision"] == "promoted"


def test_promote_promotes_a_worse_challenger_and_says_so(
    client: MlflowClient, tmp_path: Path
) -> None:
    gate(client, tmp_path, 1.04, recipe="recipe-a")
    worse, decision = gate(client, tmp_path, 1.59, promote=True)
    assert decision.promote and champion_of(client) == worse
    assert decision.reason.startswith("promoted by --promote; ")
    assert "lower is better" in decision.reason
    assert "champion 1.04 → challenger 1.59" in decision.reason


def test_a_refit_of_the_same_recipe_on_a_newer_window_gets_no_free_pass(
    client: MlflowClient, tmp_path: Path
) -> None:
    """The champion's own score was measured on older data: the challenger's window scores
    the same recipe the same, which does not beat it."""
    first, _ = gate(client, tmp_path, 1.04, recipe="recipe-a")
    newer = "data fedcba9876543210 to 2024-07-12"
    _, decision = gate(client, tmp_path, 1.59, window=newer, recipe="recipe-a")
    assert not decision.promote and champion_of(client) == first
    assert "champion 1.59 → challenger 1.59" in decision.reason
    assert "1.04 on its own window" in decision.reason


def test_a_champion_whose_recipe_cannot_be_rerun_is_not_beaten_by_default(
    client: MlflowClient, tmp_path: Path
) -> None:
    first, _ = gate(client, tmp_path, 1.04, recipe="recipe-a")
    _, decision = gate(client, tmp_path, 0.5, window="data 1111 to 2024-07-12")
    assert not decision.promote and champion_of(client) == first
    assert "unknown on this window" in decision.reason and "--promote" in decision.reason


def test_a_champion_whose_recipe_fails_on_this_window_is_not_beaten_by_default(
    client: MlflowClient, tmp_path: Path
) -> None:
    """A rerun that the data refuses leaves the champion's score unknown: the training goes
    on, keeps the champion, and says why and how to promote anyway."""
    gate(client, tmp_path, 1.04, recipe="recipe-a")
    champion = registry.version_by_alias(client, NAME, registry.CHAMPION)

    def refused(_: object) -> float:
        raise DataContractError.from_message("no late lines as of 2024-05-03")

    found = champion_on_window(champion, "data 2222 to 2024-07-12", "recipe-b", 0.5, refused)
    assert found is not None and found.value is None
    decision = registry.decide("brier", 0.5, found, 0.02)
    assert not decision.promote
    assert "cannot be scored on this window: no late lines" in decision.reason
    assert "--promote" in decision.reason


def test_demand_scores_the_champions_model_choices_on_the_challengers_windows() -> None:
    """A demand refit of the same recipe is judged against the champion's choice of model
    per series, scored on the challenger's backtest windows."""
    backtest = pd.DataFrame(
        [
            # series, model, window, score: two windows each
            *[("a", "ets", w, s) for w, s in ((0, 1.0), (1, 3.0))],  # mean 2.0
            *[("a", "naive", w, s) for w, s in ((0, 1.0), (1, 1.0))],  # mean 1.0
            *[("b", "ets", w, 0.5) for w in (0, 1)],
            *[("b", "theta", w, 0.7) for w in (0, 1)],
            *[("c", "naive", w, 4.0) for w in (0, 1)],
        ],
        columns=["series_id", "model", "window", "score"],
    )
    challenger = pd.DataFrame(
        {"series_id": ["a", "b", "c"], "model": ["naive", "ets", "naive"], "score": [1.0, 0.5, 4.0]}
    )
    champion = pd.DataFrame(
        {
            "series_id": ["a", "b", "gone"],  # c is new since; gone is no longer a series
            "model": ["ets", "theta", "naive"],
            "members": ["ets", "theta", "naive"],
        }
    )
    value, scored = choices_score(backtest, challenger, champion)
    assert scored == 2
    assert value == pytest.approx((2.0 + 0.7 + 4.0) / 3)  # c counts as the challenger's


# --- the CLI, with capacity trainings ---------------------------------------------------


def train(history: Path, config: Path, *extra: str) -> int:
    return main(["train", "capacity", "--data", str(history), "--config", str(config), *extra])


def versions(uri: str) -> dict[str, dict[str, str]]:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = client.search_model_versions("name='ordercast-capacity'")
    return {str(v.version): dict(v.tags) for v in found}


def capacity_champion(uri: str) -> str:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = registry.version_by_alias(client, "ordercast-capacity", registry.CHAMPION)
    return "" if found is None else str(found.version)


@pytest.fixture()
def one_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's source hash held for the test: its trainings are of one recipe even
    while someone edits forecasting/ (which makes a training another recipe, rightly)."""
    from training import tracking

    pinned = tracking.library_hash()
    monkeypatch.setattr(tracking, "library_hash", lambda root=None: pinned)


@pytest.fixture(scope="module")
def four_weeks_before_the_end(history_file: Path) -> str:
    end = pd.read_csv(history_file, parse_dates=["order_date"])["order_date"].max()
    return f"{end - pd.Timedelta(weeks=4):%Y-%m-%d}"


def test_train_keeps_a_refit_on_newer_data_force_retrains_promote_promotes(
    history_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    four_weeks_before_the_end: str,
    one_library: None,
) -> None:
    """The case of #22: a capacity refit of the same recipe on newer data, scoring worse
    than the champion's recorded score, was promoted as "same recipe refit on newer data"."""
    uri = empty_store(tmp_path / "mlflow.db")
    config = write_config(tmp_path, uri)
    assert train(history_file, config, "--as-of", four_weeks_before_the_end) == 0
    first_score = float(versions(uri)["1"]["gate.score"])
    capsys.readouterr()

    assert train(history_file, config) == 3
    out = said(capsys)
    assert capacity_champion(uri) == "1"
    tags = versions(uri)["2"]
    assert tags["gate.decision"] == "rejected" and tags["gate.metric"] == "backlog_error"
    assert float(tags["gate.score"]) > first_score  # what the user saw: a worse number
    for text in ("kept as challenger", "backlog_error, lower is better", "kept champion"):
        assert text in out, (text, out)
    assert f"{float(tags['gate.score']):.4g}" in out
    assert f"{first_score:.4g} on its own window" in out

    # The same command again: nothing new to learn, nothing registered, the same verdict.
    assert train(history_file, config) == 3
    assert "up to date" in said(capsys) and set(versions(uri)) == {"1", "2"}

    # --force retrains, and the gate still decides: no better on the same window, kept.
    assert train(history_file, config, "--force") == 3
    assert set(versions(uri)) == {"1", "2", "3"} and capacity_champion(uri) == "1"
    assert "v3 kept as challenger" in said(capsys)

    # --promote promotes what the gate would not, and the decision says so, scores and all.
    assert train(history_file, config, "--force", "--promote") == 0
    out = said(capsys)
    assert capacity_champion(uri) == "4"
    assert "promoted by --promote; backlog_error, lower is better: champion" in out, out
    assert versions(uri)["4"]["gate.reason"].startswith("promoted by --promote")

    assert main(["models", "list", "--config", str(config)]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"backlog_error \d\.\d+ \(lower is better\)", listed), listed
    assert "rejected" in listed and "promoted by --promote" in listed


def test_refresh_says_why_it_is_promoted_without_a_comparison(
    history_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    four_weeks_before_the_end: str,
) -> None:
    uri = empty_store(tmp_path / "mlflow.db")
    config = write_config(tmp_path, uri)
    assert train(history_file, config, "--as-of", four_weeks_before_the_end) == 0
    command = ["refresh", "capacity", "--data", str(history_file), "--config", str(config)]
    assert main(command) == 0
    tags = versions(uri)["2"]
    assert capacity_champion(uri) == "2" and tags["gate.decision"] == "refresh"
    assert "promoted without a comparison" in tags["gate.reason"]
    assert "keeps v1's choices the gate judged" in tags["gate.reason"]
    assert "backlog_error" in tags["gate.reason"] and "lower is better" in tags["gate.reason"]
    capsys.readouterr()
    assert main(["models", "list", "--config", str(config)]) == 0
    assert "(lower is better), v1's" in capsys.readouterr().out


def test_train_help_tells_force_from_promote(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["train", "--help"]) == 0
    out = said(capsys)
    assert re.search(r"--promote (<bool> )?Promote the new version whatever its score", out), out
    assert re.search(
        r"--force (<bool> )?Train even when the champion \(or a challenger the gate kept\) was", out
    )
    assert "The gate still decides on promotion" in out
    assert "lower is better" in out


def test_a_demand_refit_on_newer_data_is_judged_against_the_champions_choices(
    history_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    four_weeks_before_the_end: str,
    one_library: None,
) -> None:
    uri = empty_store(tmp_path / "mlflow.db")
    config = write_config(tmp_path, uri)
    command = ["train", "demand", "--data", str(history_file), "--config", str(config)]
    assert main([*command, "--as-of", four_weeks_before_the_end]) == 0
    capsys.readouterr()
    code = main(command)
    out = said(capsys)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version("ordercast-demand", "2").tags
    assert "v1's model choices on this window's backtest" in tags["gate.reason"], out
    assert "scaled_pinball, lower is better: champion" in out
    challenger, champion = float(tags["gate.score"]), float(tags["gate.champion_score"])
    promoted = challenger < champion * (1 - 0.02)  # gate.margin's default
    assert code == (0 if promoted else 3)
    assert tags["gate.decision"] == ("promoted" if promoted else "rejected")
