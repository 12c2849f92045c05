"""The MLflow model registry: names, aliases, the promotion gate, promote and rollback.

Versions are addressed by alias (``models:/ordercast-demand@champion``), never by the
deprecated stages. A new version gets ``challenger``; the gate decides whether it also
becomes ``champion``, and writes the decision and both scores as tags on the version.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecasting.errors import ConfigError
from training.serving import (  # one definition
    CHALLENGER,
    CHAMPION,
    KINDS,
    model_name,
    unavailable,
    version_by_alias,
)


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def decide(
    new_score: float,
    champion_score: float | None,
    margin: float,
    force: bool = False,
    same_recipe_newer_data: bool = False,
) -> GateDecision:
    """Whether a challenger becomes champion. Scores are losses: lower is better."""
    if force:
        return GateDecision(True, "forced (--force)")
    if champion_score is None:
        return GateDecision(True, "no champion yet")
    if same_recipe_newer_data:
        return GateDecision(True, "same recipe refit on newer data")
    threshold = champion_score * (1 - margin)
    if new_score < threshold:
        return GateDecision(
            True, f"score {new_score:.4f} beats champion {champion_score:.4f} by > {margin:.0%}"
        )
    return GateDecision(
        False,
        f"score {new_score:.4f} does not beat champion {champion_score:.4f} by {margin:.0%} "
        f"(needs < {threshold:.4f})",
    )


def record_decision(
    client: MlflowClient,
    name: str,
    version: str,
    decision: GateDecision,
    new_score: float,
    champion: ModelVersion | None,
    champion_score: float | None,
) -> None:
    """Tag the version with the decision and move the aliases."""
    tags = {
        "gate.decision": "promoted" if decision.promote else "rejected",
        "gate.reason": decision.reason,
        "gate.score": f"{new_score:.6f}",
        "gate.champion_version": champion.version if champion else "",
        "gate.champion_score": "" if champion_score is None else f"{champion_score:.6f}",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    if decision.promote:
        promote(client, name, version)


def promote(client: MlflowClient, name: str, version: str) -> None:
    """Make ``version`` the champion (and remember it was one, for rollbacks)."""
    try:
        client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise ConfigError(f"{name} has no version {version}") from exc
    client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_model_version_tag(name, str(version), "was_champion", "true")


def rollback(client: MlflowClient, name: str, to: str | None = None) -> str:
    """Point ``champion`` back to ``to``, or to the newest earlier version that was champion."""
    current = version_by_alias(client, name, CHAMPION)
    if to is None:
        if current is None:
            raise ConfigError(f"{name} has no champion to roll back from")
        earlier = [
            v
            for v in client.search_model_versions(f"name='{name}'")
            if int(v.version) < int(current.version) and v.tags.get("was_champion") == "true"
        ]
        if not earlier:
            raise ConfigError(f"{name}: no earlier champion to roll back to; use --to VERSION")
        to = max(earlier, key=lambda v: int(v.version)).version
    promote(client, name, str(to))
    return str(to)


def list_versions(client: MlflowClient) -> pd.DataFrame:
    """Every registered version of every kind, with aliases and gate tags."""
    rows = []
    for kind in KINDS:
        name = model_name(kind)
        try:
            versions = client.search_model_versions(f"name='{name}'")
        except Exception as exc:
            problem = unavailable(client.tracking_uri, exc)
            if problem is None:
                continue
            raise problem from exc
        for v in versions:
            rows.append(
                {
                    "kind": kind,
                    "version": int(v.version),
                    "aliases": ",".join(sorted(client.get_model_version(name, v.version).aliases)),
                    "created": pd.Timestamp(v.creation_timestamp, unit="ms").strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                    "score": v.tags.get("gate.score", ""),
                    "decision": v.tags.get("gate.decision", ""),
                    "run_id": v.run_id,
                }
            )
    frame = pd.DataFrame(
        rows, columns=["kind", "version", "aliases", "created", "score", "decision", "run_id"]
    )
    return frame.sort_values(["kind", "version"]).reset_index(drop=True)
