"""How data-loading workers start: from a forkserver tied to its trainer, never forked from the trainer.

A worker forked from the trainer inherits the trainer's whole heap, anew every epoch (5.5 GB per worker
for UniFormer-B at 224 px). A forkserver is a small process that imported only the data code
(``PRELOAD``); workers forked from it start small. One catch: CPython hands every forkserver child the
forkserver's keep-alive pipe, so after a trainer is killed outright (SIGKILL, the OOM killer) the
forkserver waits for its workers and the workers, whose parent is the forkserver, wait for it: both
would outlive the run. ``tie_to_trainer`` makes the kernel kill the forkserver with its trainer; the
workers then see their parent gone and exit (PyTorch's worker watchdog).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

START_METHOD = "forkserver"
PRELOAD = ["tinyactions.train.workers", "tinyactions.train.registry"]  # imported once by the forkserver
_TRAINER = "TINYACTIONS_TRAINER_PID"  # set by the trainer; a direct child that imports this module ties itself
_PR_SET_PDEATHSIG = 1


def prepare_forkserver() -> None:
    """Call in the trainer before its first data loader starts workers."""
    import multiprocessing

    os.environ[_TRAINER] = str(os.getpid())
    multiprocessing.set_forkserver_preload(PRELOAD)


def tie_to_trainer() -> None:
    """In the forkserver (a direct child of the trainer): die when the trainer dies."""
    if not sys.platform.startswith("linux") or os.environ.get(_TRAINER) != str(os.getppid()):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.environ.get(_TRAINER) != str(os.getppid()):  # the trainer died before the tie
        os._exit(1)


tie_to_trainer()
