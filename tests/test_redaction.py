"""Passwords given in URLs or DSNs never come back out in messages or logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from forecasting.redaction import redact
from ordercast.cli import main

SECRET = "s3cr3t-pl4nted"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"postgresql+psycopg://ana:{SECRET}@db:5432/orders",
            "postgresql+psycopg://ana:***@db:5432/orders",
        ),
        (f"http://user:{SECRET}@mlflow.internal:5000", "http://user:***@mlflow.internal:5000"),
        (
            f"cannot read from 'mysql://root:{SECRET}@h/x': refused",
            "cannot read from 'mysql://root:***@h/x': refused",
        ),
        (f"host=db user=ana password={SECRET} dbname=x", "host=db user=ana password=*** dbname=x"),
        (f"https://h/x?token={SECRET}&a=1", "https://h/x?token=***&a=1"),
        ("sqlite:////data/orders.db", "sqlite:////data/orders.db"),
        ("http://mlflow:5000/#/experiments", "http://mlflow:5000/#/experiments"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://ana:{SECRET}@127.0.0.1:1/orders",  # nothing listens on port 1
        f"nosuchdriver://ana:{SECRET}@127.0.0.1/orders",
    ],
)
def test_cli_error_does_not_print_the_password(
    url: str, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert main(["validate", url]) == 2
    captured = capsys.readouterr()
    assert "ana:***@" in captured.err
    for text in (captured.out, captured.err, caplog.text):
        assert SECRET not in text


def test_run_parameters_and_tags_are_redacted(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from training.tracking import recorded_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("redaction", (tmp_path / "art").as_uri())
    planted = f"http://ana:{SECRET}@mlflow.internal:5000"
    with recorded_run(client, experiment, "r", tags={"source.uri": planted}) as run:
        run.log_params({"mlflow.tracking_uri": planted})
        run.set_tags({"data.source": f"postgresql://ana:{SECRET}@db/orders"})
        run_id = run.run_id
    data = client.get_run(run_id).data
    assert data.params["mlflow.tracking_uri"] == "http://ana:***@mlflow.internal:5000"
    texts = [*data.params.values(), *data.tags.values()]
    assert not any(SECRET in text for text in texts)
