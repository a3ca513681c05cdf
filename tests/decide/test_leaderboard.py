"""metrics/leaderboard.json has a declared schema: the committed board holds exactly its keys and types,
and a key added, removed or of another type is one line naming it."""

import copy
import json

import pytest

from tests.conftest import ROOT
from tinyactions.decide import leaderboard

BOARD = json.loads((ROOT / "metrics/leaderboard.json").read_text())


def test_the_committed_board_is_the_declared_schema():
    assert leaderboard.checked(BOARD) is BOARD  # returned as it is: the file's bytes do not go through it
    optional = {"lr_only", "greedy_selection"}
    assert set(leaderboard.Leaderboard.__annotations__) - optional <= set(BOARD)  # the demo writes every key


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b["ensemble"].update(f1_new=0.1), "leaderboard: ensemble.f1_new: Extra inputs are not permitted"),
        (lambda b: b["runs"]["ircsn_lr"].pop("mAP_last"), "leaderboard: runs.ircsn_lr.mAP_last: Field required"),
        (lambda b: b.update(f1_ci=[0.1, 0.2]), "leaderboard: f1_ci: Input should be a valid dictionary"),
        (lambda b: b["f1_ci"].pop("hi"), "leaderboard: f1_ci.hi: Field required"),
        (lambda b: b["folds"].update(k="five"), "leaderboard: folds.k: Input should be a valid integer"),
        (lambda b: b.pop("comparisons"), "leaderboard: comparisons: Field required"),
        (lambda b: b.update(f1="0.26"), "leaderboard: f1: Input should be a valid number"),
        (lambda b: b["folds"].update(k=True), "leaderboard: folds.k: Input should be a valid integer"),
        (
            lambda b: b["ensemble"]["strategies"]["f1"].update(k_in_sample=[0.1]),
            "leaderboard: ensemble.strategies.f1.k_in_sample: Extra inputs are not permitted",
        ),
    ],
)
def test_a_board_other_than_declared_is_refused_naming_the_key(change, message):
    board = copy.deepcopy(BOARD)
    change(board)
    with pytest.raises(ValueError) as e:
        leaderboard.checked(board)
    assert str(e.value).startswith(message)


def test_optional_parts_may_be_absent():
    board = copy.deepcopy(BOARD)
    board.pop("lr_only", None)
    board.pop("greedy_selection", None)
    assert leaderboard.checked(board) is board


def test_evaluate_writes_no_file_of_a_board_other_than_declared(tmp_path):
    from tinyactions.core.paths import Workspace
    from tinyactions.decide import evaluate

    out = evaluate.Outputs(
        bundle={}, answer="", val_predictions=None, plots={}, board={**BOARD, "f1_new": 0.1}, ablation="", summary=[]
    )
    with pytest.raises(ValueError, match="^leaderboard: f1_new: Extra inputs are not permitted"):
        evaluate.write(out, Workspace(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_dvc_metrics_diff_shows_an_interval_bound(tmp_path):
    """Intervals are named bounds: ``dvc metrics diff`` between two commits shows a bound that moved (it
    drops list values without a word, which is why the bounds are not a list)."""
    import os
    import subprocess
    import sys

    repo = tmp_path / "repo"
    (repo / "metrics").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    env.update(
        HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1", DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(tmp_path / "s")
    )

    def run(*cmd):
        return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True).stdout

    def commit(board, message):
        board = {**board, "f1_ci_as_a_list": [board["f1_ci"]["lo"], board["f1_ci"]["hi"]]}
        (repo / "metrics/leaderboard.json").write_text(json.dumps(board))
        run("git", "add", "-A")
        run("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)

    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (repo / "dvc.yaml").write_text("metrics:\n  - metrics/leaderboard.json\n")
    commit(BOARD, "before")
    moved = copy.deepcopy(BOARD)
    moved["f1_ci"]["lo"] = BOARD["f1_ci"]["lo"] - 0.01
    commit(moved, "after")
    diff = json.loads(run(sys.executable, "-m", "dvc", "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    changed = diff["metrics/leaderboard.json"]
    assert changed["f1_ci.lo"]["old"] == pytest.approx(BOARD["f1_ci"]["lo"])
    assert changed["f1_ci.lo"]["new"] == pytest.approx(BOARD["f1_ci"]["lo"] - 0.01)
    assert not [key for key in changed if key.startswith("f1_ci_as_a_list")]  # the same bound as a list: unseen
