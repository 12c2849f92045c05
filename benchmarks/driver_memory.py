"""Benchmark: where the demand driver's memory goes per series after a fit (#20).

Deep in-memory sizes (numpy nbytes, pandas deep memory_usage, python objects by getsizeof,
shared objects counted once) and pickled sizes of each part, divided by the series count.
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/driver_memory.py 1000 [trace]
"""

from __future__ import annotations

import dataclasses
import gc
import os
import pickle
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import weekly_panel

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import GlobalModelConfig, ParallelConfig


def deep(obj, seen=None) -> int:
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = 0 if obj.base is not None and id(obj.base) in seen else obj.nbytes
        return sys.getsizeof(obj) - (obj.nbytes if obj.flags.owndata else 0) + base
    if isinstance(obj, pd.DataFrame | pd.Series | pd.Index):
        return int(
            obj.memory_usage(deep=True).sum()
            if isinstance(obj, pd.DataFrame)
            else obj.memory_usage(deep=True)
        )
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep(k, seen) + deep(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep(v, seen) for v in obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        size += sum(deep(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
        if hasattr(obj, "__dict__"):
            size += sys.getsizeof(obj.__dict__)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        size += deep(vars(obj), seen)
    return size


def _status(field: str) -> int:
    """This process's /proc status field (VmRSS, VmHWM) in bytes."""
    text = Path(f"/proc/{os.getpid()}/status").read_text()
    return int(text.split(f"{field}:")[1].split()[0]) * 1024


def kb(n: int, per: int) -> str:
    return f"{n / per / 1024:8.2f} kB/series  ({n / 2**20:8.1f} MB)"


def main() -> None:
    n = int(sys.argv[1])
    trace = len(sys.argv) > 2 and sys.argv[2] == "trace"
    frame = weekly_panel(n, 156)
    print(f"panel: {kb(int(frame.memory_usage(deep=True).sum()), n)}")
    if trace:
        tracemalloc.start()
    t = time.perf_counter()
    model = AutoForecaster(
        horizon=13,
        season_length=52,
        freq="W-SUN",
        global_model=GlobalModelConfig(seasons=(52,)),
        parallel=ParallelConfig(n_jobs=2),
    ).fit(frame)
    print(f"fit {time.perf_counter() - t:.0f} s")
    if trace:
        cur, peak = tracemalloc.get_traced_memory()
        print(f"tracemalloc after fit: current {kb(cur, n)}; peak {kb(peak, n)}")
        tracemalloc.stop()
    gc.collect()
    fits = list(model.fits_.values())
    print("fitted state (fits_):", kb(deep(model.fits_), n))
    for name in [f.name for f in dataclasses.fields(fits[0])]:
        mem = sum(deep(getattr(f, name)) for f in fits)
        pk = sum(len(pickle.dumps(getattr(f, name), protocol=5)) for f in fits)
        print(f"   {name:14s} mem {kb(mem, n)}  pickled {kb(pk, n)}")
    pk = sum(len(pickle.dumps(f, protocol=5)) for f in fits)
    print("   one SeriesFit pickled alone, mean:", f"{pk / n / 1024:.2f} kB")
    # states by member model
    by = {}
    for f in fits:
        for m, s in zip(f.members, f.states, strict=True):
            by.setdefault(m, []).append(len(pickle.dumps(s, protocol=5)))
    for m, v in sorted(by.items()):
        print(f"      state {m:16s} n={len(v):5d} mean pickled {np.mean(v) / 1024:.2f} kB")
    print(
        "rows per backtest:",
        np.mean([len(f.backtest) for f in fits]),
        "residuals:",
        np.mean([len(f.residuals) for f in fits]),
    )
    print("models:", pd.Series([f.model for f in fits]).value_counts().to_dict())
    g = model.global_
    if g is not None:
        for name in ("backtest", "final", "levels", "nonnegative", "errors", "model"):
            part = getattr(g, name)
            pickled = len(pickle.dumps(part, protocol=5))
            print(f"global_.{name:12s} mem {kb(deep(part), n)}  pickled {kb(pickled, n)}")
    print("selection_:", kb(int(model.selection_.memory_usage(deep=True).sum()), n))
    print(
        "backtest_:",
        kb(int(model.backtest_.memory_usage(deep=True).sum()), n),
        model.backtest_.shape,
    )
    whole = len(pickle.dumps(model, protocol=5))
    print("whole model pickled:", kb(whole, n))
    rss = _status("VmRSS")
    hwm = _status("VmHWM")
    print("rss", kb(rss, n), "hwm", kb(hwm, n))
    t = time.perf_counter()
    fc = model.predict(13, (0.1, 0.5, 0.9))
    framed = int(fc.memory_usage(deep=True).sum())
    print(f"predict {time.perf_counter() - t:.1f} s; frame {kb(framed, n)}")
    hwm = _status("VmHWM")
    print("hwm after predict", kb(hwm, n))


if __name__ == "__main__":
    main()
