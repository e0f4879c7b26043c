"""Progress of a long command on stderr, for a person watching (never parsed)."""

from __future__ import annotations

import sys
import time


class ProgressLine:
    """`label: done/total (pct) rate/s ETA` on stderr: redrawn on a terminal, else every 5 s."""

    def __init__(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, max(total, 0), 0
        self._started = self._shown = time.monotonic()
        self._tty = sys.stderr.isatty()

    def __call__(self, done: int) -> None:
        self._done += done
        now = time.monotonic()
        if now - self._shown >= (0.2 if self._tty else 5.0):
            self._shown = now
            self._show(final=False)

    def finish(self) -> None:
        self._show(final=True)

    def _show(self, final: bool) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self._done / elapsed
        total = max(self._total, self._done)
        pct = 100.0 * self._done / total if total else 100.0
        eta = (total - self._done) / rate if rate > 0 else 0.0
        text = f"{self._label}: {self._done:,}/{total:,} ({pct:.0f}%) {rate:,.0f}/s"
        text += f" in {elapsed:.1f}s" if final else f" ETA {eta:.0f}s"
        end = "\n" if final or not self._tty else ""
        print(("\r" if self._tty else "") + text, end=end, file=sys.stderr, flush=True)
