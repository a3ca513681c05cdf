"""Wall time of the demo pipeline against its targets: from scratch, a no-op repro, a thresholds-only change.

    PATH=$PWD/.venv/bin:$PATH python bench/pipeline_wall_time.py            # in the repository root

1. `dvc repro --force`: every stage recomputed (what a fresh clone runs), timed per stage; the
   super-resolution cache (data/.superres-cache, outside DVC) is emptied first, as a fresh clone has none;
2. `dvc repro` again: nothing to do;
3. a thresholds parameter changed (`thresholds.prior`, to a value not run before, so DVC's run-cache
   cannot restore it), `dvc repro`: only `evaluate` runs; the parameter is put back afterwards (that
   repro restores from the run-cache).
Prints each time, its target and the ratio time / target (below 1 meets the target). The workspace
ends in sync with params.yaml, so this doubles as the demo run whose results are committed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

TARGETS = {"from scratch": 15 * 60, "no-op": 10, "thresholds only": 60}


def repro(*args: str) -> tuple[float, list[tuple[str, float]]]:
    """Run `dvc repro`, echo its output, return (seconds, [(stage, seconds)])."""
    start = time.monotonic()
    proc = subprocess.Popen(["dvc", "repro", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stages, current, since = [], None, start
    for line in proc.stdout:
        sys.stdout.write(line)
        found = re.match(r"Running stage '([^']+)'", line)
        if found:
            now = time.monotonic()
            if current:
                stages.append((current, now - since))
            current, since = found.group(1), now
    if proc.wait() != 0:
        raise SystemExit(f"dvc repro {' '.join(args)} failed")
    end = time.monotonic()
    if current:
        stages.append((current, end - since))
    return end - start, stages


def set_param(path: Path, dotted: str, value) -> object:
    """Change one value in params.yaml in place (text edit keeps comments); return the old value."""
    section, key = dotted.split(".")
    text = path.read_text()
    old = yaml.safe_load(text)[section][key]
    pattern = re.compile(rf"(^{section}:.*?^\s+{key}:\s*)([^\s#]+)", re.S | re.M)
    new_text, n = pattern.subn(lambda m: m.group(1) + str(value), text, count=1)
    if n != 1:
        raise SystemExit(f"cannot find {dotted} in {path}")
    path.write_text(new_text)
    return old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-scratch", action="store_true", help="only the no-op and thresholds-only timings")
    args = ap.parse_args()
    results, stages = {}, []
    if not args.skip_scratch:
        shutil.rmtree("data/.superres-cache", ignore_errors=True)
        results["from scratch"], stages = repro("--force")
    results["no-op"], _ = repro()
    params = Path("params.yaml")
    old = set_param(params, "thresholds.prior", round(0.4 + (time.time_ns() // 1000 % 10000) / 1e5, 5))
    try:
        results["thresholds only"], ran = repro()
        if [s for s, _ in ran] != ["evaluate"]:
            raise SystemExit(f"a thresholds change ran {[s for s, _ in ran]}, expected only evaluate")
    finally:
        set_param(params, "thresholds.prior", old)
    repro()  # back in sync (restored from the run-cache)

    print("\n| stage | seconds |\n|---|---|")
    for name, seconds in stages:
        print(f"| {name} | {seconds:.0f} |")
    print("\n| measurement | seconds | target | time / target |\n|---|---|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.1f} | {TARGETS[name]} | {seconds / TARGETS[name]:.2f} |")


if __name__ == "__main__":
    main()
