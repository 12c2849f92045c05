"""Serialised responses kept in memory, keyed by the model version that made them.

Demand forecasts are precomputed at training time and capacity outlooks are a seeded
simulation, so the same request to the same version always has the same answer: after the
first time it is served as stored bytes. Keys carry the model version and load time, so a
swapped-in champion never meets the old version's answers (they age out of the LRU).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool


class ResponseCache:
    """A bounded, thread-safe least-recently-used map from request keys to JSON bytes.

    Bounded by entry count and by total bytes: one capacity outlook of 500 sites over two
    years is tens of megabytes, so a count alone would not bound memory.
    """

    def __init__(self, max_entries: int = 50_000, max_bytes: int = 256 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return  # one answer may not push out most of the others
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._entries[key] = body
            self._bytes += len(body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


async def cached_json(cache: ResponseCache, key: Hashable, build: Callable[[], bytes]) -> Response:
    """The JSON answer stored under ``key``, else ``build()``'s, made in the thread pool (the
    event loop keeps answering meanwhile) and stored. ``build`` raises the domain errors of
    a question with no answer; those are not stored."""
    body = cache.get(key)
    if body is None:
        body = await run_in_threadpool(build)
        cache.put(key, body)
    return Response(body, media_type="application/json")
