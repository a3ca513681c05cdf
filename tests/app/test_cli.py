"""The tinyactions command: one entry point with a subcommand for each thing users run by hand."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tinyactions.app import cli

VENV_COMMAND = ROOT / ".venv/bin/tinyactions"


def run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyactions", *args], cwd=cwd, capture_output=True, text=True)


def test_the_overview_lists_every_command_and_no_command_is_an_error():
    out = run("--help")
    assert out.returncode == 0 and all(f"  {name} " in out.stdout for name in cli.COMMANDS)
    assert run().returncode == 2
    bad = run("train")
    assert bad.returncode == 2 and "invalid choice: 'train'" in bad.stderr


@pytest.mark.parametrize(
    "command,option",
    [
        ("predict", "--lr-only"),
        ("profile", "--data-root"),
        ("share", "--remote"),
        ("leaderboard", "--run-stale"),
        ("plots", "template"),
    ],
)
def test_each_command_has_its_own_help(command, option):
    out = run(command, "--help")
    assert out.returncode == 0 and out.stdout.startswith(f"usage: tinyactions {command}") and option in out.stdout


def test_version_is_the_installed_projects():
    out = run("--version")
    assert out.returncode == 0 and out.stdout == f"tinyactions {cli.version()}\n"
    version = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines() if line.startswith("version"))
    assert cli.version() == version.split('"')[1]


@pytest.mark.parametrize(
    "argv,listed",
    [
        (["profile"], "one of: paper"),
        (["share"], "{push}"),
        (["plots"], "{template,render}"),
        (["plots", "render"], "the HTML page"),
    ],
)
def test_each_commands_help_lists_its_choices(argv, listed):
    """A positional argument names what it takes: the profiles there are, the actions there are."""
    out = run(*argv, "--help")
    assert out.returncode == 0 and listed in out.stdout, out.stdout


def test_a_known_failure_is_one_line_naming_the_command(tmp_path):
    out = run("predict", "a.mp4", "--out", "p.csv", "--bundle", str(tmp_path / "missing.json"), cwd=ROOT)
    assert out.returncode == 1
    missing = tmp_path / "missing.json"
    assert out.stderr.strip().splitlines()[-1] == (
        f"predict: --bundle: {missing} does not exist (the evaluate stage writes submission/bundle.json)"
    )
    out = run("profile", "nosuch", "--data-root", str(tmp_path), "--weights", str(tmp_path), cwd=ROOT)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("profile: ")


def test_leaderboard_options_become_the_scripts_settings(monkeypatch):
    seen = {}

    def fake_run(cmd, env):
        seen.update(cmd=cmd, env=env)
        return subprocess.CompletedProcess(cmd, 3)

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    monkeypatch.delenv("LEADERBOARD_BASE", raising=False)
    monkeypatch.delenv("LEADERBOARD_PUSH", raising=False)
    with pytest.raises(SystemExit) as ended:
        cli.main(["leaderboard", "--base", "origin/main", "--run-stale"])
    assert ended.value.code == 3  # the script's exit status
    assert seen["cmd"] == ["bash", str(ROOT / "scripts/leaderboard.sh")]
    assert seen["env"]["LEADERBOARD_BASE"] == "origin/main" and seen["env"]["LEADERBOARD_RUN_STALE"] == "1"
    assert "LEADERBOARD_PUSH" not in seen["env"]


def test_setup_installs_the_console_script_and_a_workspace_imports_its_own_copy(tmp_path):
    """The editable install serves the command; a copy of the code (a queued DVC experiment's workspace)
    still imports itself first."""
    assert VENV_COMMAND.is_file(), "scripts/setup.sh installs the project editable"
    out = subprocess.run([str(VENV_COMMAND), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: tinyactions" in out.stdout
    (tmp_path / "tinyactions").mkdir()
    (tmp_path / "tinyactions/__init__.py").write_text("")
    found = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", "import tinyactions; print(tinyactions.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == str(tmp_path / "tinyactions/__init__.py")
