"""Risk bands: the p_late thresholds from which a line is medium and high risk.

Kept apart from the model so settings and the command line can check bands without
importing scikit-learn.
"""

from __future__ import annotations

import numpy as np

from forecasting.errors import ConfigError


def check_bands(bands: tuple[float, float]) -> tuple[float, float]:
    """The p_late thresholds of the medium and high bands, or a clear error."""
    low, high = bands
    if not 0 < low < high < 1:
        raise ConfigError(
            f"risk bands {low:g},{high:g}: need 0 < medium < high < 1 (e.g. 0.2,0.5 means "
            "medium from 20%, high from 50%)"
        )
    return float(low), float(high)


def risk_band(p_late: np.ndarray, bands: tuple[float, float]) -> np.ndarray:
    """ "low", "medium" or "high" per probability."""
    low, high = bands
    return np.where(p_late >= high, "high", np.where(p_late >= low, "medium", "low"))
