"""Stores opened from several threads of one process at once all migrate (a server's
background figures open the store while a command or another request opens one)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from store.database import OrderStore
from store.orders import read_orders


def test_new_stores_opened_by_several_threads_at_once_all_migrate(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'store-{i}.db'}" for i in range(8)]

    def open_and_read(url: str) -> int:
        store = OrderStore.open(url)
        try:
            return len(read_orders(store))
        finally:
            store.dispose()

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(open_and_read, urls)) == [0] * 8
