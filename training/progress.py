"""Named steps of a training run: a progress bar on a terminal (elsewhere a log line as
each step starts), a log line as each step ends, and the seconds each took (logged to the
run, read by ``benchmarks/train.py``)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator, Sequence

from tqdm.auto import tqdm

logger = logging.getLogger("ordercast.train")


class Steps:
    """The steps of one training run, in order; use :meth:`step` around each."""

    def __init__(self, kind: str, names: Sequence[str]) -> None:
        self.kind = kind
        self.seconds: dict[str, float] = {}
        self._bar = tqdm(
            total=len(names),
            desc=f"train {kind}",
            unit="step",
            disable=not sys.stderr.isatty(),
            leave=False,
        )

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._bar.set_postfix_str(name)
        if self._bar.disable:  # no bar to show the step under way: a line says it started
            logger.info(
                "%s: %s ...", self.kind, name, extra={"ctx_kind": self.kind, "ctx_step": name}
            )
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            self._bar.update(1)
            logger.info(
                "%s: %s done in %.1f s",
                self.kind,
                name,
                elapsed,
                extra={"ctx_kind": self.kind, "ctx_step": name, "ctx_seconds": round(elapsed, 3)},
            )

    def metrics(self) -> dict[str, float]:
        """``seconds.<step>`` for every step so far, to log on the run."""
        return {f"seconds.{name}": value for name, value in self.seconds.items()}

    def close(self) -> None:
        self._bar.close()
