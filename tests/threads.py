"""Threads a block of a test started, checked to end after it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def started_threads_end(name_prefix: str, timeout: float) -> Iterator[None]:
    """The threads named ``name_prefix``... that the block started have ended within
    ``timeout`` s of it (threads of earlier tests, still running, are not the block's)."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith(name_prefix):
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} outlived the block that started it"
