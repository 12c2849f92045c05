"""The demand page's series picker over 10,000 series: at most 50 matches, every word of
the query matched, and the time per keystroke printed (measured, not asserted: timing
asserts fail on busy CI machines)."""

from __future__ import annotations

import time

from api.web.demand_view import MAX_MATCHES, SeriesIndex, SeriesRef


def ten_thousand() -> SeriesIndex:
    refs = [SeriesRef("total", "__total__")]
    refs += [SeriesRef("site", f"SITE-{s}") for s in range(1, 6)]
    refs += [
        SeriesRef("sku,site", f"SKU-{k:05d}|SITE-{s}") for k in range(2000) for s in range(1, 6)
    ]
    return SeriesIndex(refs)


def test_every_word_must_match_in_any_case() -> None:
    index = ten_thousand()
    assert [r.series_id for r in index.search("sku-01234 site-3")] == ["SKU-01234|SITE-3"]
    assert [r.label for r in index.search("TOTAL")] == ["Total (all SKUs and sites)"]
    assert index.search("no-such-thing") == []


def test_at_most_fifty_matches() -> None:
    index = ten_thousand()
    assert len(index) == 10_006
    assert len(index.search("sku")) == MAX_MATCHES
    assert len(index.search("")) == MAX_MATCHES  # an empty box lists the first series


def test_a_keystroke_over_ten_thousand_series_is_measured() -> None:
    index = ten_thousand()
    typed = "sku-01999 site-5"
    started = time.perf_counter()
    for end in range(1, len(typed) + 1):  # one search per keystroke, as the page asks
        index.search(typed[:end])
    per_key = (time.perf_counter() - started) / len(typed) * 1000
    print(f"series search over {len(index):,} series: {per_key:.2f} ms per keystroke")
    assert [r.series_id for r in index.search(typed)] == ["SKU-01999|SITE-5"]
