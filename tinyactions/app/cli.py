"""The tinyactions command: what users run by hand, one subcommand each (tinyactions <command> --help).
The pipeline itself is ``dvc repro``; its stages are ``python -m stages.<name>``.

    tinyactions predict <videos | folders | annotation json>... --out predictions.csv [--lr-only]
    tinyactions profile paper --data-root /datasets/TinyVIRAT_V2 --weights /weights [--gpus 8]
    tinyactions share push [--remote NAME]
    tinyactions leaderboard [--base main] [--run-stale] [--push]
    tinyactions plots template | render PAGE --out DIR [--png]
    tinyactions check-outputs [--base HEAD]
    tinyactions --version
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

# command -> (the module whose ``command(argv, prog)`` runs it, one line for the overview)
COMMANDS = {
    "predict": ("tinyactions.app.predict", "apply the trained ensemble (submission/bundle.json) to new videos"),
    "profile": ("tinyactions.app.profiles", "switch params.yaml to a named profile (profiles/<name>.yaml)"),
    "share": ("tinyactions.app.sharing", "push outputs and the complete run-cache to a DVC remote"),
    "leaderboard": ("tinyactions.app.cli", "regenerate the leaderboard metrics from the DVC remote"),
    "plots": ("tinyactions.app.plots_page", "offline `dvc plots` pages: the template, a headless check"),
    "check-outputs": ("tinyactions.app.check_outputs", "did the stages rerun reproduce the committed output hashes?"),
}
LEADERBOARD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts/leaderboard.sh"


def command(argv: list[str], prog: str) -> None:
    """``tinyactions leaderboard``: scripts/leaderboard.sh with its settings as options."""
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Regenerate the leaderboard metrics from the default DVC remote: restore what the remote "
        "and its run-cache hold, recompute evaluate, print `dvc metrics diff` against a base. A stale "
        "training stage is never run here unless --run-stale: the command fails and names it.",
    )
    ap.add_argument("--base", help="the revision to diff against (default: LEADERBOARD_BASE, else main)")
    ap.add_argument("--run-stale", action="store_true", help="run what is stale (a machine that may train)")
    ap.add_argument("--push", action="store_true", help="also share new results (outputs and run-cache)")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.base:
        env["LEADERBOARD_BASE"] = args.base
    if args.run_stale:
        env["LEADERBOARD_RUN_STALE"] = "1"
    if args.push:
        env["LEADERBOARD_PUSH"] = "1"
    sys.exit(subprocess.run(["bash", str(LEADERBOARD_SCRIPT)], env=env).returncode)


def version() -> str:
    """The installed project's version (pyproject.toml's, as setup installed it)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("tinyactions")
    except PackageNotFoundError:
        return "unknown (not installed: scripts/setup.sh installs it)"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    overview = "\n".join(f"  {name:<14} {line}" for name, (_, line) in COMMANDS.items())
    ap = argparse.ArgumentParser(
        prog="tinyactions",
        description=__doc__.splitlines()[0],
        epilog=f"commands:\n{overview}\n\n`tinyactions <command> --help` describes each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"tinyactions {version()}")
    ap.add_argument("command", choices=list(COMMANDS), metavar="command", help="one of: " + ", ".join(COMMANDS))
    ap.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    if not argv or argv[0] in ("-h", "--help"):
        ap.print_help()
        sys.exit(0 if argv else 2)
    if argv[0] == "--version":
        ap.parse_args(argv[:1])  # prints it and exits 0
    parsed = ap.parse_args(argv[:1])
    module = importlib.import_module(COMMANDS[parsed.command][0])
    module.command(argv[1:], prog=f"tinyactions {parsed.command}")


if __name__ == "__main__":
    main()
