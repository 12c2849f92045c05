"""The CLI's log handler writes to stderr as it is when a record comes: a caller that swaps
stderr and closes the old stream (a test capturing it, a notebook) must not leave logging
writing to a closed file."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from ordercast.logs import configure_logging


def test_logs_follow_stderr_after_it_is_swapped_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging()
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    errors: list[str] = []
    monkeypatch.setattr(logging.Handler, "handleError", lambda self, record: errors.append("x"))
    logging.getLogger("ordercast.test").info("after the swap")
    assert "after the swap" in second.getvalue()
    assert errors == []
