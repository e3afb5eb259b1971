"""A small progress bar for training: step counter, loss, the task's metric, steps/s, ETA.

Drawn on a terminal only (it stays quiet when the stream is not a TTY, e.g. a log file or a
CI job) and only where asked (rank 0 of a distributed run). tqdm draws it when installed;
otherwise a one-line bar of our own, redrawn at most ten times a second.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1:15"``, ``3700`` -> ``"1:01:40"`` (``"?"`` when unknown)."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Progress over steps ``start .. total``; `update` after every step, `write` for lines
    that must stay (evaluations), `close` at the end.

    ``enabled=None`` draws only when `stream` is a terminal. ``use_tqdm=None`` uses tqdm when
    it can be imported.
    """

    def __init__(
        self,
        total: int,
        start: int = 0,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        use_tqdm: bool | None = None,
        desc: str = "train",
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.total, self.start, self.step, self.desc = total, start, start, desc
        self.fields: dict[str, str] = {}
        self.t0 = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0
        self._tqdm: Any = None
        if enabled and use_tqdm is not False:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                if use_tqdm:
                    raise
            else:
                self._tqdm = tqdm(
                    total=total, initial=start, desc=desc, file=self.stream, dynamic_ncols=True
                )

    @property
    def rate(self) -> float:
        """Steps per second since this run started (0 before the first step)."""
        dt = time.perf_counter() - self.t0
        return (self.step - self.start) / dt if dt > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds left at the current rate (inf before the first step)."""
        r = self.rate
        return (self.total - self.step) / r if r > 0 else float("inf")

    def update(self, step: int, **fields: str) -> None:
        """Record that `step` steps are done; `fields` are shown as ``name value``."""
        done = step - self.step
        self.step = step
        self.fields.update(fields)
        if not self.enabled:
            return
        if self._tqdm is not None:
            self._tqdm.update(done)
            self._tqdm.set_postfix_str("  ".join(f"{k} {v}" for k, v in self.fields.items()))
            return
        now = time.perf_counter()
        if now - self._last_draw >= 0.1 or step >= self.total:
            self._last_draw = now
            self._draw()

    def line(self) -> str:
        """The bar's text: ``train  37/200 [####......]  loss 0.012  3.1 steps/s  ETA 0:52``."""
        n = len(str(self.total))
        frac = min(1.0, self.step / self.total) if self.total else 1.0
        bar = "#" * int(frac * 20)
        parts = [f"{self.desc} {self.step:>{n}}/{self.total} [{bar:<20}]"]
        parts += [f"{k} {v}" for k, v in self.fields.items()]
        parts += [f"{self.rate:.2f} steps/s", f"ETA {format_duration(self.eta)}"]
        return "  ".join(parts)

    def _draw(self) -> None:
        cols = shutil.get_terminal_size((100, 24)).columns - 1
        text = self.line()[:cols]
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def write(self, text: str) -> None:
        """Print a line that stays (above the bar when one is drawn)."""
        if self._tqdm is not None:
            self._tqdm.write(text, file=self.stream)
            return
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()
        if self.enabled and self._width:
            self._draw()

    def close(self) -> None:
        """Finish the bar (a new line after it)."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        elif self.enabled and self._width:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
