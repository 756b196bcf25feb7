"""Console output of a running experiment: one log line per finished trial, and a status line
(done/running/failed of the budget, best so far, elapsed, ETA): redrawn live when stderr is a
terminal, else logged every ``status_every`` seconds so a search under ``nohup``, in CI or in a
notebook log still says it is alive while long trials run."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_seconds"]

_logger = logging.getLogger("retiarii.experiment")


def format_seconds(seconds: float | None) -> str:
    """``93`` -> ``'01:33'``, ``3700`` -> ``'1:01:40'``."""
    if seconds is None:
        return "--:--"
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Prints progress: a live line on a terminal, a periodic log line elsewhere."""

    def __init__(
        self,
        budget: int | None,
        duration: float | None,
        stream: TextIO | None = None,
        status_every: float = 30.0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.budget = budget
        self.duration = duration
        self.status_every = status_every
        self.start = time.time()
        self._last_draw = 0.0 if self.live else self.start

    def due(self, force: bool = False) -> bool:
        """Whether :meth:`update` would print now (the caller can skip counting otherwise)."""
        since = time.time() - self._last_draw
        if self.live:
            return force or since >= 0.1
        return not force and since >= self.status_every

    def trial_finished(
        self, trial_id: int, status: str, value: float | None, seconds: float | None, sample: dict
    ) -> None:
        """One line per finished trial (through logging, so users can silence it)."""
        metric = f"{value:.6g}" if value is not None else "no metric"
        self._clear()
        _logger.info(
            "trial %d %s in %s: %s %s", trial_id, status, format_seconds(seconds), metric, sample
        )

    def update(
        self,
        done: int,
        running: int,
        failed: int,
        best: float | None,
        best_id: int | None,
        force: bool = False,
    ) -> None:
        """Redraw the live line (at most 10 times a second), or log it every ``status_every`` s."""
        if not self.due(force):
            return
        now = time.time()
        self._last_draw = now
        elapsed = now - self.start
        eta: float | None = None
        if self.budget and done:
            eta = elapsed / done * (self.budget - done)
        if self.duration is not None:
            eta = min(eta, self.duration - elapsed) if eta is not None else self.duration - elapsed
        budget = str(self.budget) if self.budget else "?"
        best_text = f"best {best:.6g} (#{best_id})" if best is not None else "best -"
        line = (
            f"[{done}/{budget}] running {running} failed {failed} | {best_text} | "
            f"{format_seconds(elapsed)} elapsed, ETA {format_seconds(eta)}"
        )
        if not self.live:
            _logger.info("status: %s", line)
            return
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def close(self) -> None:
        """End the live line."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
