"""The MLflow model registry: names, aliases, the promotion gate, promote and rollback.

Versions are addressed by alias (``models:/ordercast-demand@champion``), never by the
deprecated stages. A new version gets ``challenger``; the gate decides whether it also
becomes ``champion``, and writes the decision and both scores as tags on the version.

``gate.decision`` is the last thing written for a version: one without it was left by a
killed training or refresh (or is being registered by a live one, which holds the kind's
lock). :func:`recover_interrupted`, run under that lock, archives such orphans and puts the
aliases back where they were.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
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

logger = logging.getLogger(__name__)

DECISION_TAG = "gate.decision"  # written last: a version without it is not (yet) decided
ORPHANED_TAG = "orphaned"  # why a version or run was archived by recover_interrupted
PREVIOUS_CHAMPION_TAG = "gate.champion_version"  # where champion pointed before this version
PREVIOUS_CHALLENGER_TAG = "gate.previous_challenger"  # where challenger pointed before it
WAS_CHAMPION_TAG = "was_champion"


def decided(version: ModelVersion) -> bool:
    """Whether the gate finished deciding ``version`` (and no cleanup archived it since)."""
    return DECISION_TAG in version.tags and ORPHANED_TAG not in version.tags


# Every kind's gate score is a loss (lower is better); the name says which loss, so that a
# decision, a tag and `ordercast models list` can say what was compared, and which way.
METRICS = {
    "demand": "scaled_pinball",  # mean backtest scaled pinball loss of the chosen models
    "capacity": "backlog_error",  # mean |projected - realised backlog| / mean capacity
    "risk": "brier",  # Brier score of the lines open at the start of the window
}
DIRECTION = "lower is better"
METRIC_TAG = "gate.metric"
DIRECTION_TAG = "gate.direction"
WINDOW_TAG = "gate.window"  # the data and cutoff the score was measured on


@dataclass(frozen=True)
class ChampionScore:
    """The champion's score on the challenger's evaluation window, and how it was found.
    ``value`` is None when it could not be found (the champion's recipe is not recorded)."""

    value: float | None
    basis: str


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def score_text(metric: str, score: float) -> str:
    """``brier 0.1234 (lower is better)``: a score with its metric and direction."""
    if not math.isfinite(score):
        # e.g. demand on a history shorter than one backtest window: nothing was scored.
        return f"{metric} not measured (no evaluation window fits the history)"
    return f"{metric} {score:.4g} ({DIRECTION})"


def decide(
    metric: str,
    new_score: float,
    champion: ChampionScore | None,
    margin: float,
    promote_anyway: bool = False,
) -> GateDecision:
    """Whether a challenger becomes champion: only when its score beats the champion's on
    the same evaluation window by more than ``margin`` (or ``promote_anyway``, --promote).

    Scores are losses: lower is better. ``champion`` is None when there is no champion. A
    refit of the champion's recipe on newer data gets no free pass: on one window the same
    recipe scores the same, which does not beat it.
    """
    if champion is None:
        return GateDecision(True, f"no champion yet; {score_text(metric, new_score)}")
    if champion.value is None:
        compared = (
            f"{metric}, {DIRECTION}: champion unknown on this window ({champion.basis}) "
            f"→ challenger {new_score:.4g}"
        )
        if promote_anyway:
            return GateDecision(True, f"promoted by --promote; {compared}")
        return GateDecision(False, f"{compared}, kept champion (--promote to promote it anyway)")
    compared = (
        f"{metric}, {DIRECTION}: champion {champion.value:.4g} → challenger {new_score:.4g} "
        f"({champion.basis})"
    )
    threshold = champion.value * (1 - margin)
    if promote_anyway:
        return GateDecision(True, f"promoted by --promote; {compared}")
    if new_score < threshold:
        return GateDecision(True, f"{compared}, beats it by more than {margin:.0%}: promoted")
    return GateDecision(
        False,
        f"{compared}, kept champion (a challenger needs < {threshold:.4g}: {margin:.0%} better)",
    )


def record_decision(
    client: MlflowClient,
    name: str,
    version: str,
    decision: GateDecision,
    new_score: float,
    champion: ModelVersion | None,
    champion_score: float | None,
    metric: str,
    window: str,
    run_id: str | None = None,
) -> None:
    """Tag the version (and its run) with the decision and move the aliases.

    In an order a kill cannot leave half done: first the gate's facts and where both aliases
    pointed before (so :func:`recover_interrupted` can put them back), then the aliases,
    ``gate.decision`` last. Until that last write the version is undecided: shown nowhere
    as decided, and archived by the next training of the kind if this process dies. The
    run gets the same facts after, so a run never shows a decision its version lacks.
    """
    previous_challenger = version_by_alias(client, name, CHALLENGER)
    facts = {
        "gate.reason": decision.reason,
        "gate.score": f"{new_score:.6f}",
        METRIC_TAG: metric,
        DIRECTION_TAG: DIRECTION,
        WINDOW_TAG: window,
        PREVIOUS_CHAMPION_TAG: champion.version if champion else "",
        "gate.champion_score": "" if champion_score is None else f"{champion_score:.6f}",
        PREVIOUS_CHALLENGER_TAG: previous_challenger.version if previous_challenger else "",
    }
    for key, value in facts.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    if decision.promote:
        promote(client, name, version)
    verdict = "promoted" if decision.promote else "rejected"
    client.set_model_version_tag(name, version, DECISION_TAG, verdict)
    if run_id is not None:  # the run shows what the gate made of it, once it is decided
        shown = ("gate.reason", "gate.score", "gate.champion_score", METRIC_TAG, DIRECTION_TAG)
        for key in (*shown, WINDOW_TAG):
            client.set_tag(run_id, key, facts[key])
        client.set_tag(run_id, DECISION_TAG, verdict)


def promote(client: MlflowClient, name: str, version: str) -> None:
    """Make ``version`` the champion (and remember it was one, for rollbacks)."""
    try:
        found = client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise ConfigError(f"{name} has no version {version}") from exc
    if ORPHANED_TAG in found.tags:
        raise ConfigError(
            f"{name} v{version} was archived as orphaned ({found.tags[ORPHANED_TAG]}); "
            "it cannot be champion: promote a decided version, or retrain"
        )
    client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_model_version_tag(name, str(version), WAS_CHAMPION_TAG, "true")


def rollback(client: MlflowClient, name: str, to: str | None = None) -> str:
    """Point ``champion`` back to ``to``, or to the newest earlier version that was champion."""
    current = version_by_alias(client, name, CHAMPION)
    if to is None:
        if current is None:
            raise ConfigError(f"{name} has no champion to roll back from")
        earlier = [
            v
            for v in client.search_model_versions(f"name='{name}'")
            if int(v.version) < int(current.version)
            and v.tags.get(WAS_CHAMPION_TAG) == "true"
            and decided(v)
        ]
        if not earlier:
            raise ConfigError(f"{name}: no earlier champion to roll back to; use --to VERSION")
        to = max(earlier, key=lambda v: int(v.version)).version
    promote(client, name, str(to))
    return str(to)


def list_versions(client: MlflowClient) -> pd.DataFrame:
    """Every registered version of every kind, with aliases, its gate score (metric and
    direction named), the gate's decision and why."""
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
                    "score": listed_score(kind, v.tags),
                    "decision": "orphaned"
                    if ORPHANED_TAG in v.tags
                    else v.tags.get(DECISION_TAG, "undecided"),
                    "reason": v.tags.get("gate.reason", ""),
                    "run_id": v.run_id,
                }
            )
    columns = ["kind", "version", "aliases", "created", "score", "decision", "reason", "run_id"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["kind", "version"]).reset_index(drop=True)


def listed_score(kind: str, tags: Mapping[str, str]) -> str:
    """A version's gate score as ``models list`` shows it: ``brier 0.1234 (lower is
    better)``; a refresh's is its parent's, and says so."""
    raw = tags.get("gate.score", "")
    try:
        score = float(raw)
    except ValueError:
        return raw
    text = score_text(tags.get(METRIC_TAG) or METRICS.get(kind, "score"), score)
    parent = tags.get("refresh.parent")
    return f"{text}, v{parent}'s" if parent else text


def recover_interrupted(client: MlflowClient, experiment: str, name: str) -> list[str]:
    """Archive what a killed training or refresh of ``name`` left; one sentence per item.

    Call it only while holding the kind's training lock: then no live process owns a run
    left RUNNING in ``experiment`` or a version of ``name`` without a gate decision. Each
    such version gets its aliases put back where they pointed before it (recorded on it by
    :func:`record_decision` / the refresh), loses ``was_champion`` (so rollbacks skip it)
    and is tagged ``orphaned`` with the reason; each such run is marked FAILED. Versions are
    archived rather than deleted: their runs and artifacts stay for whoever investigates
    the kill, and their numbers are never reused for another model. Safe to repeat: a kill
    during the cleanup leaves the version untagged, and the next run finishes the job.
    """
    versions: list[ModelVersion] = []
    try:
        versions = list(client.search_model_versions(f"name='{name}'"))
    except Exception as exc:
        problem = unavailable(client.tracking_uri, exc)
        if problem is not None:
            raise problem from exc
    notes = []
    for version in sorted(versions, key=lambda v: int(v.version)):
        if DECISION_TAG in version.tags or ORPHANED_TAG in version.tags:
            continue
        reason = f"run {version.run_id} was killed before the gate decided on it"
        notes += _put_aliases_back(client, name, version)
        if WAS_CHAMPION_TAG in version.tags:
            client.delete_model_version_tag(name, version.version, WAS_CHAMPION_TAG)
        client.set_model_version_tag(name, version.version, ORPHANED_TAG, reason)
        notes.append(f"{name} v{version.version} archived as orphaned: {reason}")
    for run in client.search_runs([experiment], "attributes.status = 'RUNNING'"):
        client.set_tag(run.info.run_id, ORPHANED_TAG, "left RUNNING by a killed process")
        client.set_terminated(run.info.run_id, "FAILED")
        notes.append(
            f"run {run.info.run_id} ({run.info.run_name}) marked FAILED: it was left RUNNING "
            "by a killed process"
        )
    for note in notes:
        logger.warning("cleaned up after a killed training: %s", note)
    return notes


def _put_aliases_back(client: MlflowClient, name: str, orphan: ModelVersion) -> list[str]:
    """Point champion and challenger, where they point at ``orphan``, back at the versions
    they held before it (or remove them when there were none)."""
    notes = []
    for alias, tag in ((CHAMPION, PREVIOUS_CHAMPION_TAG), (CHALLENGER, PREVIOUS_CHALLENGER_TAG)):
        holder = version_by_alias(client, name, alias)
        if holder is None or holder.version != orphan.version:
            continue
        before = orphan.tags.get(tag, "")
        if before:
            client.set_registered_model_alias(name, alias, before)
            notes.append(f"{name}@{alias} moved back from v{orphan.version} to v{before}")
        else:
            client.delete_registered_model_alias(name, alias)
            notes.append(f"{name}@{alias} removed from v{orphan.version} (none before it)")
    return notes
