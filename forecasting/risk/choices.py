"""The walk-forward's choices by name, in a module without models: the command line shows
them in `--help` without loading scikit-learn."""

from __future__ import annotations

from typing import Literal

Cadence = Literal["monthly", "weekly"]
CADENCES: tuple[str, ...] = ("monthly", "weekly")
# The at-risk model's feature profiles (forecasting.risk.walk_forward.PROFILES).
Profile = Literal["queue", "line"]
