"""Sharing pipeline results through a DVC remote, so another machine (CI, a colleague, a queue worker)
restores stages from the run-cache instead of rerunning them.

    tinyactions share push [--remote NAME]

`dvc push --run-cache` uploads the run-cache entries and the workspace's cached outputs, but not the
objects of ``cache: false`` outputs (this pipeline's metrics and plots, kept in git) that those
entries refer to. A stage with such an output is then rerun on the other machine instead of being
restored (the symptom of treeverse/dvc issue 5749): ``dvc repro --pull`` finds the run but not all of
its outputs. ``push`` therefore also uploads every object the local run-cache entries refer to.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("tinyactions.app.sharing")


def run_cache_entries(cache_path: str | Path) -> list[tuple[str, str]]:
    """(stage key, entry) pairs of a local DVC cache's run-cache (``runs/<k[:2]>/<key>/<entry>``)."""
    runs = Path(cache_path) / "runs"
    return sorted((p.parent.name, p.name) for p in runs.glob("*/*/*") if p.is_file())


def push(root: str | Path = ".", remote: str | None = None) -> tuple[int, int]:
    """Push outputs and the run-cache, then the objects the run-cache entries refer to.
    Returns (objects pushed by dvc, extra run-cache objects pushed)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        pushed = repo.push(run_cache=True, remote=remote)
        used = repo.stage_cache.get_used_objs(run_cache_entries(repo.cache.legacy.path), remote=remote)
        extra = 0
        for _, objs in used.items():
            present = {o for o in objs if repo.cache.local.exists(o.value)}
            if present:
                result = repo.cloud.push(present, remote=remote)
                extra += len(result.transferred)
        return pushed, extra


def main(argv: list[str] | None = None, prog: str = "tinyactions share") -> None:
    ap = argparse.ArgumentParser(prog=prog, description="share outputs and the complete run-cache through a DVC remote")
    ap.add_argument(
        "command", choices=["push"], help="push: the outputs of dvc.lock and the run-cache, so others restore them"
    )
    ap.add_argument("--remote", help="DVC remote name (default: the default remote)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pushed, extra = push(remote=args.remote)
    log.info("pushed %d objects and run-cache entries, plus %d objects of uncached outputs", pushed, extra)


def command(argv: list[str], prog: str) -> None:
    """``tinyactions share``: dvc's errors (no remote, an unreachable one) end the command in one line."""
    try:
        main(argv, prog)
    except Exception as e:
        sys.exit(f"share: {e}")


if __name__ == "__main__":
    command(sys.argv[1:], "python -m tinyactions.app.sharing")
