"""The API's response cache stays within its entry and byte bounds."""

from __future__ import annotations

from api.response_cache import ResponseCache


def test_oldest_answers_leave_first_when_bytes_run_out() -> None:
    cache = ResponseCache(max_entries=100, max_bytes=800)
    for name in "abcde":
        cache.put(name, b"x" * 100)
    cache.get("a")  # used again: now the most recent
    for name in "fghi":
        cache.put(name, b"y" * 100)
    assert cache.size_bytes <= 800
    assert cache.get("a") is not None
    assert cache.get("b") is None  # the least recently used went first
    assert len(cache) == 8


def test_an_answer_bigger_than_an_eighth_of_the_budget_is_not_kept() -> None:
    cache = ResponseCache(max_bytes=800)
    cache.put("small", b"s" * 50)
    cache.put("huge", b"h" * 101)
    assert cache.get("huge") is None
    assert cache.get("small") == b"s" * 50


def test_replacing_an_answer_counts_its_bytes_once() -> None:
    cache = ResponseCache(max_bytes=1000)
    cache.put("k", b"a" * 100)
    cache.put("k", b"b" * 50)
    assert cache.size_bytes == 50 and cache.get("k") == b"b" * 50


def test_entry_count_is_bounded_too() -> None:
    cache = ResponseCache(max_entries=3)
    for name in "abcd":
        cache.put(name, b"z")
    assert len(cache) == 3 and cache.get("a") is None
