"""Progress of the long loops (prepare's checks, super-resolution, scoring, the teacher, predict, the demo's
generation, the generator's fit), one way: a bar with items/s on a terminal; where the output is not a
terminal (a CI log, ``make repro > log``), a line every ``interval`` seconds with the same numbers and a
last line with the total, instead of carriage-return redraws that fill the log.

Library functions take a ``progress`` callable, ``progress(description, total=None, done=0)``, that opens
the bar of one phase of their work and returns its ``update(n)``; a stage passes :class:`Phases`, which
closes the previous phase's bar when the next opens. Training reports through mmengine's logger.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

# seconds between two lines where the output is not a terminal; TINYACTIONS_PROGRESS_SECONDS overrides it
INTERVAL = 30.0


def _interval() -> float:
    raw = os.environ.get("TINYACTIONS_PROGRESS_SECONDS")
    try:
        return float(raw) if raw else INTERVAL
    except ValueError:
        return INTERVAL


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 1 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class Progress:
    """One loop's progress: ``update(n)`` after each ``n`` items, ``close()`` at the end (or a ``with``)."""

    def __init__(
        self,
        description: str,
        total: int | None = None,
        unit: str = "item",
        initial: int = 0,
        *,
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.description, self.total, self.unit = description, total, unit
        self.done = self.initial = initial
        self.stream = stream if stream is not None else sys.stderr
        self.interval = _interval() if interval is None else interval
        self.clock = clock
        self.start = self.last = clock()
        self.postfix = ""
        self.closed = False
        isatty = getattr(self.stream, "isatty", None)
        self.bar = None
        if isatty is not None and isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit=unit, desc=description, file=self.stream)

    def update(self, n: int = 1, **postfix: float | str) -> None:
        self.done += n
        if postfix:
            self.postfix = ", ".join(f"{k} {v}" for k, v in postfix.items())
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._line(now)

    def rate(self, now: float) -> float:
        elapsed = now - self.start
        return (self.done - self.initial) / elapsed if elapsed > 0 else 0.0

    def _line(self, now: float, final: bool = False) -> None:
        rate = self.rate(now)
        if final:
            text = f"{self.done} {self.unit}s in {duration(now - self.start)}, {rate:.1f} {self.unit}s/s"
        elif self.total:
            left = (self.total - self.done) / rate if rate > 0 else None
            text = (
                f"{self.done}/{self.total} {self.unit}s ({100 * self.done / self.total:.0f}%), "
                f"{rate:.1f} {self.unit}s/s" + (f", {duration(left)} left" if left is not None else "")
            )
        else:
            text = f"{self.done} {self.unit}s, {rate:.1f} {self.unit}s/s"
        if self.postfix:
            text += f", {self.postfix}"
        print(f"{time.strftime('%H:%M:%S')} {self.description}: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        else:
            self._line(self.clock(), final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Phases:
    """The progress callable library functions take: ``phases(description, total=None, done=0)`` closes
    the previous phase's bar, opens one for the next and returns its ``update``."""

    def __init__(self, unit: str = "item", **options):
        self.unit, self.options = unit, options
        self.current: Progress | None = None

    def __call__(self, description: str, total: int | None = None, done: int = 0) -> Callable[..., None]:
        self.close()
        self.current = Progress(description, total, self.unit, done, **self.options)
        return self.current.update

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    def __enter__(self) -> Phases:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
