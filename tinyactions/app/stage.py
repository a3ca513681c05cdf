"""What every DVC stage does around its one library call: log under its name, turn a known user error
into one line without a traceback, and relaunch itself under torchrun when it trains on several
processes. Stages (`stages/*.py`) are thin; this is the one copy of their plumbing."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from tinyactions.core.errors import SettingsError


class StageError(ValueError):
    """A user-facing failure of a stage (a missing input, a file that changed): one line, no traceback."""


USER_ERRORS: tuple[type[Exception], ...] = (SettingsError, StageError)

# A comma-separated list of the stages this machine may compute (scripts/leaderboard.sh sets it on CI
# runners): dvc starts a stage's command only when the stage is stale and its run-cache has no run of
# it, so any other stage stops there instead of training.
COMPUTE_ONLY = "TINYACTIONS_COMPUTE_ONLY"


def logger(stage: str) -> logging.Logger:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {stage}: %(message)s", datefmt="%H:%M:%S")
    return logging.getLogger(f"tinyactions.{stage}")


def run(stage: str, body: Callable[[], None], errors: tuple[type[Exception], ...] = ()) -> None:
    """Run a stage's body; a user error (settings, inputs, and the stage's own ``errors``) exits with
    ``<stage>: <message>``. Under ``TINYACTIONS_COMPUTE_ONLY`` a stage not listed there exits at once."""
    allowed = os.environ.get(COMPUTE_ONLY)
    if allowed is not None and stage not in allowed.split(","):
        sys.exit(f"{stage}: stale and not in the run-cache; this machine computes only {allowed} ({COMPUTE_ONLY})")
    try:
        body()
    except USER_ERRORS + errors as e:
        sys.exit(f"{stage}: {e}")


def relaunch_on(processes: int, module: str, *args: str, log: logging.Logger | None = None) -> None:
    """With ``processes`` > 1 and not yet under torchrun, replace this process by torchrun running
    ``python -m module args`` once per process (one per GPU, or CPU shares with gloo); else return."""
    if processes <= 1 or "LOCAL_RANK" in os.environ:
        return
    # --standalone keeps parallel queue workers from colliding on a rendezvous port
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        module,
        *args,
    ]
    if log is not None:
        log.info("launching %d processes: %s", processes, " ".join(cmd))
    os.execv(sys.executable, cmd)
