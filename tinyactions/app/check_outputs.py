"""``tinyactions check-outputs``: did the stages rerun since a revision reproduce their outputs byte for byte?

After code moves (every stage's code deps change, none of its results should), a workspace with finished
runs reruns a sample of stages, checks here that every output hash in ``dvc.lock`` equals the one in the
revision's ``dvc.lock``, then records the other stages' new code deps with ``dvc commit -f`` instead of
retraining (docs/architecture.md: "After the code moved"). A change that alters an output on purpose
names it with ``--expect stage:path``: it must differ, and every other output must not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml


def output_hashes(lock: dict) -> dict[tuple[str, str], str]:
    """(stage, output path) -> its md5 in a parsed ``dvc.lock``."""
    return {
        (stage, out["path"]): out.get("md5", "")
        for stage, entry in (lock.get("stages") or {}).items()
        for out in entry.get("outs") or []
    }


def changed_outputs(base: dict, now: dict, skip: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Every output whose hash differs between two ``dvc.lock`` contents, but those of ``skip`` (outputs of
    one side only are not compared: a stage added or removed is not a reproduction)."""
    before, after = output_hashes(base), output_hashes(now)
    return [
        f"{stage}: {path} {before[stage, path][:8]} -> {after[stage, path][:8]}"
        for stage, path in sorted((before.keys() & after.keys()) - skip)
        if before[stage, path] != after[stage, path]
    ]


def main(argv: list[str] | None = None, prog: str = "tinyactions check-outputs") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0].split(": ", 1)[1])
    ap.add_argument("--base", default="HEAD", help="the git revision whose dvc.lock to compare with (%(default)s)")
    ap.add_argument("--lock", default="dvc.lock", type=Path, help="the lock file (default: %(default)s)")
    ap.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="STAGE:PATH",
        help="an output the change alters on purpose (repeatable): it must differ",
    )
    args = ap.parse_args(argv)
    shown = subprocess.run(["git", "show", f"{args.base}:{args.lock}"], capture_output=True, text=True)
    if shown.returncode != 0:
        raise FileNotFoundError(f"--base: {args.base} has no {args.lock} ({shown.stderr.strip()})")
    base_lock, now_lock = yaml.safe_load(shown.stdout), yaml.safe_load(args.lock.read_text())
    base, now = output_hashes(base_lock), output_hashes(now_lock)
    compared = base.keys() & now.keys()
    expected = set()
    for text in args.expect:
        stage, _, path = text.partition(":")
        if (stage, path) not in compared:
            raise FileNotFoundError(f"--expect: {text} is no output of both locks (stage:path)")
        expected.add((stage, path))
    surprises = changed_outputs(base_lock, now_lock, skip=expected)
    stayed = [
        f"{s}: {p} is equal, though --expect says it changes" for s, p in sorted(expected) if base[s, p] == now[s, p]
    ]
    for line in surprises + stayed:
        print(line)
    others = len(compared) - len(expected)
    if surprises or stayed:
        print(
            f"{len(surprises)} of {others} outputs differ from {args.base}"
            + (f", {len(stayed)} of {len(expected)} expected to differ do not" if expected else "")
            + ": rerun what is stale, do not commit"
        )
        return 1
    print(
        f"all {others} outputs equal those of {args.base}"
        + (f"; the {len(expected)} expected to differ do" if expected else "")
    )
    return 0


def command(argv: list[str], prog: str) -> None:
    try:
        sys.exit(main(argv, prog))
    except FileNotFoundError as e:
        sys.exit(f"check-outputs: {e}")


if __name__ == "__main__":
    command(sys.argv[1:], "python -m tinyactions.app.check_outputs")
