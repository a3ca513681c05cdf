"""A pipeline repo for end-to-end tests: the project's tracked pipeline files in a fresh git + DVC repo
with its own HOME and DVC site cache, so nothing leaks in from (or out to) the developer's setup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def deep_update(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def make_repo(path: Path, overrides: dict) -> dict:
    """Copy the pipeline's tracked files into a fresh git + DVC repo with tiny params."""
    path.mkdir(parents=True)
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, path / name)
    for package in ("stages", "tinyactions", "scripts", "profiles"):
        shutil.copytree(ROOT / package, path / package, ignore=shutil.ignore_patterns("__pycache__"))
    params = deep_update(yaml.safe_load((ROOT / "params.yaml").read_text()), overrides)
    for key in ("runs", "students"):  # run lists are replaced, not merged
        if key in overrides:
            params[key] = overrides[key]
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    env.update(
        HOME=str(path.parent / "home"),
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(path.parent / "dvc-site"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    (path.parent / "home").mkdir(exist_ok=True)
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "t@example.invalid"],
        ["git", "config", "user.name", "test"],
        [sys.executable, "-m", "dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "init"],
    ):
        if cmd[:2] == ["git", "add"]:  # the project's DVC settings (cache link type) over dvc init's
            shutil.copy(ROOT / ".dvc/config", path / ".dvc/config")
            shutil.copytree(ROOT / ".dvc/plots", path / ".dvc/plots")  # its plot templates
        subprocess.run(cmd, cwd=path, env=env, check=True, capture_output=True)
    return env


def dvc(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=1800
    )


def commit(repo: Path, env: dict, message: str) -> None:
    for cmd in (["git", "add", "-A"], ["git", "commit", "-qm", message]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
