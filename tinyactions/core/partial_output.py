"""A table written batch by batch that survives its writer being killed: ``<out>.partial`` holds the rows of
finished batches, ``<out>.partial.json`` the bytes they fill and what they were computed from, and
``<out>.lock`` (held while a run writes) keeps a second run on the same ``out`` away. A run computed from
the same inputs (its ``fingerprint``) resumes after the finished rows, so an interrupted run and an
uninterrupted one write the same bytes."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from tinyactions.core.files import write_json

# Rows are valid UTF-8: a file name that is not is written escaped (bundle.prediction_table)
CSV_ENCODING = {"encoding": "utf-8"}


class OutputBusy(RuntimeError):
    """Another run is writing the same output."""


class PartialOutput:
    """``out`` written in batches: ``resume`` after the finished ones, ``append`` each batch, ``finish``."""

    def __init__(self, out: Path, fingerprint: dict):
        self.out, self.fingerprint = Path(out), fingerprint
        self.rows_file = self.out.with_name(self.out.name + ".partial")
        self.state_file = self.out.with_name(self.out.name + ".partial.json")
        self.lock_file = self.out.with_name(self.out.name + ".lock")

    @contextlib.contextmanager
    def locked(self):
        """Hold ``<out>.lock`` or fail at once: two runs appending to one partial file would interleave."""
        import fcntl

        self.out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputBusy(f"{self.out}: another run is writing it (it holds {self.lock_file})") from None
            if _same_file(fd, self.lock_file):  # not a file a finishing run unlinked meanwhile
                break
            os.close(fd)
        try:
            yield
        finally:
            self.lock_file.unlink(missing_ok=True)
            os.close(fd)

    def resume(self, header: str) -> int:
        """Rows already written (0: a fresh start, the header written)."""
        if self.rows_file.is_file() and self.state_file.is_file():
            state = json.loads(self.state_file.read_text())
            if state["fingerprint"] == self.fingerprint and self.rows_file.stat().st_size >= state["bytes"]:
                os.truncate(self.rows_file, state["bytes"])  # a batch cut off mid-write is done again
                return state["rows"]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.rows_file.write_text(header)
        self._save(0)
        return 0

    def append(self, text: str, rows: int) -> None:
        """A finished batch's rows (``rows``: the count written so far, this batch's included)."""
        with open(self.rows_file, "a", **CSV_ENCODING) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self._save(rows)

    def _save(self, rows: int) -> None:
        write_json(
            self.state_file, {"fingerprint": self.fingerprint, "rows": rows, "bytes": self.rows_file.stat().st_size}
        )

    def finish(self) -> None:
        os.replace(self.rows_file, self.out)
        self.state_file.unlink()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
