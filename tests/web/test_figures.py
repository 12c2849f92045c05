"""The overview's figures from hand-made order lines whose answers are known."""

from __future__ import annotations

import pandas as pd
import pytest

from api.web.figures import order_book, shortfalls

AS_OF = pd.Timestamp("2024-03-31")


def line(order: str, promised: str, delivered: str | None, quantity: float = 1.0) -> dict:
    return {
        "order_date": pd.Timestamp("2024-03-31") if order == "last" else pd.Timestamp(order),
        "promised_date": pd.Timestamp(promised),
        "delivered_date": pd.NaT if delivered is None else pd.Timestamp(delivered),
        "quantity": quantity,
    }


def test_on_time_rates_open_and_overdue_lines() -> None:
    orders = pd.DataFrame(
        [
            # Promised in the last 4 weeks (2024-03-03, 2024-03-31]: 2 of 4 on time.
            line("2024-03-01", "2024-03-10", "2024-03-09"),
            line("2024-03-01", "2024-03-10", "2024-03-10"),
            line("2024-03-01", "2024-03-10", "2024-03-12"),
            line("2024-03-01", "2024-03-20", None, quantity=5),  # open past its promise: late
            # Promised in the 13 weeks before: 1 of 1 on time.
            line("2024-01-01", "2024-02-01", "2024-01-30"),
            # Open, promised later: not in either window, open and not overdue.
            line("last", "2024-04-10", None, quantity=7),
        ]
    )
    book = order_book(orders)
    assert book.as_of == AS_OF
    assert book.recent is not None and book.before is not None
    assert (book.recent.lines, book.recent.rate) == (4, pytest.approx(0.5))
    assert (book.before.lines, book.before.rate) == (1, pytest.approx(1.0))
    assert (book.open_lines, book.open_units, book.overdue_lines) == (2, 12.0, 1)


def test_an_empty_store_has_no_rates() -> None:
    empty = pd.DataFrame(columns=["order_date", "promised_date", "delivered_date", "quantity"])
    book = order_book(empty)
    assert book.as_of is None and book.recent is None and book.open_lines == 0


def test_sites_with_likely_shortfall_most_days_first() -> None:
    days = pd.date_range("2024-04-01", periods=3, freq="D")
    outlook = pd.DataFrame(
        {
            "site": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
            "ds": list(days) * 3,
            "p_shortfall": [0.6, 0.2, 0.5, 0.9, 0.1, 0.0, 0.4, 0.49, 0.1],
            "backlog_p50": [0, 10, 20, 5, 5, 0, 0, 0, 0],
        }
    )
    found = shortfalls(outlook)
    assert [(s.site, s.days, s.worst_day, s.backlog_end) for s in found] == [
        ("A", 2, "2024-04-01", 20.0),
        ("B", 1, "2024-04-01", 0.0),
    ]
