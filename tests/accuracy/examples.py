"""Two series, two publications: the small example every accuracy test scores by hand.

Actuals are weekly (W-SUN) from w1 to w6; w7 is not complete, so it has no actual.
Publication 1 was made at the end of w3, publication 2 at the end of w4.
"""

from __future__ import annotations

import pandas as pd

WEEKS = pd.date_range("2024-01-07", periods=7, freq="W-SUN")  # w1 .. w7 (Sundays)
A, B = "sku,site:A|S1", "sku,site:B|S2"
Y = {A: [10, 12, 9, 11, 10, 14], B: [0, 4, 0, 2, 6, 0]}  # w1 .. w6; w7 not complete yet


def actuals() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"series_id": sid, "ds": WEEKS[i], "y": float(y), "level": "sku,site"}
            for sid, ys in Y.items()
            for i, y in enumerate(ys)
        ]
    )


def row(pub: int, origin: int, sid: str, lag: int, mean: float, q10: float, q90: float) -> dict:
    return {
        "publication_id": pub,
        "kind": "train" if pub == 1 else "refresh",
        "model_version": str(pub),
        "origin": WEEKS[origin - 1],
        "level": sid.split(":")[0],
        "series_id": sid,
        "ds": WEEKS[origin - 1 + lag],
        "lag": lag,
        "model": "ets(A,N,N)" if sid == A else "croston",
        "mean": mean,
        "q10": q10,
        "q50": mean,
        "q90": q90,
    }


def published() -> pd.DataFrame:
    # Publication 1 at the end of w3, publication 2 at the end of w4.
    return pd.DataFrame(
        [
            row(1, 3, A, 1, 10, 8, 10.5),  # w4: y 11, outside
            row(1, 3, A, 2, 12, 9, 13),  # w5: y 10, inside
            row(1, 3, B, 1, 3, 1, 5),  # w4: y 2, inside
            row(1, 3, B, 2, 2, 0, 4),  # w5: y 6, outside
            row(2, 4, A, 1, 11, 9, 13),  # w5: y 10, inside
            row(2, 4, A, 2, 10, 8, 12),  # w6: y 14, outside
            row(2, 4, B, 1, 7, 5, 9),  # w5: y 6, inside
            row(2, 4, B, 2, 3, 1, 5),  # w6: y 0, outside
            row(2, 4, A, 3, 10, 8, 12),  # w7: not complete, no actual
        ]
    )


def expectations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "publication_id": [1, 1, 2, 2],
            "level": ["sku,site"] * 4,
            "lag": [1, 2, 1, 2],
            "wape": [0.1, 0.2, 0.3, 0.2],
            "mase": [0.5, 0.6, 0.7, 0.8],
            "coverage80": [0.8, 0.8, 0.9, 0.7],
        }
    )


def order_records() -> list[dict[str, object]]:
    """Order lines whose weekly sums are ``Y``: A's on the week's Sunday, B's on its
    Wednesday; the last is on w6's Sunday, so w6 is complete and w7 has no actual."""
    records: list[dict[str, object]] = []
    for sid, ys in Y.items():
        sku, site = sid.partition(":")[2].split("|")
        for week, quantity in zip(WEEKS, ys, strict=False):
            if quantity == 0:
                continue
            day = week if sku == "A" else week - pd.Timedelta(days=4)
            records.append(
                {
                    "order_id": f"{sku}-{day:%Y%m%d}",
                    "line_id": f"{sku}-{day:%Y%m%d}-1",
                    "sku": sku,
                    "site": site,
                    "order_date": f"{day:%Y-%m-%d}",
                    "promised_date": f"{day + pd.Timedelta(days=7):%Y-%m-%d}",
                    "quantity": float(quantity),
                }
            )
    return records
