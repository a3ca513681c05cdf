"""End to end: `dvc repro` of the whole pipeline on a tiny generated dataset in a temporary git repo."""

import copy
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.dvcrepo import commit, deep_update, dvc, make_repo
from tinyactions.challenge import metrics
from tinyactions.challenge.annotations import ANNOTATION_FILES, SCORE_COLUMNS
from tinyactions.challenge.submission import format_answer
from tinyactions.core.paths import Workspace
from tinyactions.data.index import truth
from tinyactions.decide.bundle import predicted_matrix, read_predictions

STUDENT = {
    "backbone": "ircsn",
    "input": "lr",
    "loss": "kd",
    "teacher": "uniformer_sr",
    "teacher_epoch": "best",
    "alpha": 0.5,
    "lr": 0.003,
    "epochs": 1,
}
TINY_PARAMS = {
    "synth": {
        "videos": {"train": 40, "val": 12, "test": 8},
        "hr_size": 48,
        "lr_size": {"min": 10, "max": 40, "median": 20},
        "frames": {"min": 6, "max": 40, "median": 16},
        "sources": {"train": {"virat": 2, "meva": 1}, "val": {"virat": 2, "meva": 1}, "test": {"virat": 1, "meva": 0}},
    },
    "execution": {"data_workers": 1, "loader_workers": 0, "score_chunk": 32, "superres_batch": 4},
    "train": {"input_size": 32},
    "runs": {
        "ircsn_lr": {"backbone": "ircsn", "input": "lr", "loss": "bce", "lr": 0.003, "epochs": 2},
        "uniformer_sr": {"backbone": "uniformer", "input": "sr", "loss": "bce", "lr": 0.003, "epochs": 1},
    },
    "superres": {
        "size": 32,
        "generator": {"mid_channels": 8, "propagation_blocks": 1, "cleaning_blocks": 1},
        "window": 16,
        "overlap": 2,
        "fit": {"clips": 4, "iterations": 3, "clip_len": 4, "batch": 2, "lr": 0.001, "eval_clips": 2, "seed": 0},
    },
    "students": {"ircsn_kd": STUDENT},
    "ensemble": {
        "members": ["ircsn_lr@best", "ircsn_lr@1", "uniformer_sr@last", "ircsn_kd@best"],
        "weights": None,
        "greedy": {"enabled": True, "max_members": 3},
        "ablation_runs": [],
    },
    "thresholds": {"folds": 3},
    "postprocess": {"min_expected": 1},
}


@pytest.mark.slow
def test_dvc_repro_end_to_end(tmp_path):
    repo = tmp_path / "repo"
    env = make_repo(repo, TINY_PARAMS)
    run = dvc(repo, env, "repro")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    train = pd.read_parquet(repo / "data/prepared/train.parquet")
    stats = json.loads((repo / "data/prepared/stats.json").read_text())
    assert stats["videos"] == {"train": 40, "val": 12, "test": 8}
    assert len(train) == stats["train_samples"] == 40 + train["flip"].sum()
    assert train["sample_id"].is_unique and train.loc[train.flip, "sample_id"].str.endswith(":flip").all()
    assert len(pd.read_parquet(repo / "data/prepared/test.parquet")) == 8
    assert json.loads((repo / "metrics/data.json").read_text())["videos"]["val"] == 12
    # outputs are files of their own (cache.type reflink,copy): a damaged output never writes through to its
    # DVC cache object, nor an SR video to its per-video SR cache entry
    checkpoint = repo / "models/ircsn_lr/epoch_1.pth"
    assert checkpoint.stat().st_nlink == 1
    video = next((repo / "data/superres").rglob("*.mp4"))
    assert video.stat().st_nlink == 1, "data/superres shares no file with data/.superres-cache or DVC's cache"
    fit_report = json.loads((repo / "metrics/superres.json").read_text())
    assert fit_report["fitted"] is True
    val = pd.read_parquet(repo / "data/prepared/val.parquet")
    per_clip = pd.read_csv(repo / "metrics/superres_clips.csv")
    assert len(per_clip) == fit_report["eval_clips"] == 2 and set(per_clip["clip"]) <= set(val["path"])
    assert per_clip["psnr_sr"].mean() == pytest.approx(fit_report["sr"]["psnr"])
    assert fit_report["clips_sr_better"] == (per_clip["psnr_sr"] > per_clip["psnr_bicubic"]).sum()
    fit_loss = pd.read_csv(repo / "metrics/superres_fit.tsv", sep="\t")
    assert fit_loss["step"].tolist() == [1, 2, 3] and (fit_loss["l1"] > 0).all()
    for rel in val["path"]:
        assert (repo / "data/superres" / rel).is_file()
    for run, epochs in (("ircsn_lr", 2), ("uniformer_sr", 1)):
        assert sorted(p.name for p in (repo / "models" / run).glob("epoch_*.pth")) == [
            f"epoch_{n}.pth" for n in range(1, epochs + 1)
        ]
        assert json.loads((repo / "metrics/train" / run / "metrics.json").read_text())["step"] == epochs
        scores = pd.read_parquet(repo / "data/scores" / f"{run}.parquet")
        assert len(scores) == epochs * (12 + 8) and not scores.duplicated(["epoch", "split", "id"]).any()

    teacher = pd.read_parquet(repo / "data/teachers/ircsn_kd.parquet")
    assert sorted(teacher["sample_id"]) == sorted(train["sample_id"]) and (teacher["epoch"] == 1).all()
    assert (repo / "models/ircsn_kd/epoch_1.pth").is_file()
    assert len(pd.read_parquet(repo / "data/scores/ircsn_kd.parquet")) == 12 + 8

    answer = (repo / "submission/answer.txt").read_text().splitlines()
    assert [line[:5] for line in answer] == sorted(pd.read_parquet(repo / "data/prepared/test.parquet")["id"])
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    assert set(board["runs"]) == {"ircsn_lr", "uniformer_sr", "ircsn_kd"}
    assert len(board["ensemble"]["members"]) == 4 and "f1_thresholds_cv" in board["ensemble"]
    assert "Table 3" in (repo / "metrics/ablation.md").read_text()

    # predict, the bundle applied to the val and test videos as new videos, makes evaluate's decisions
    synth = "data/raw/tinyvirat-synth"
    for split, extra in (("val", []), ("test", []), ("val", ["--lr-only"])):
        out = tmp_path / f"predicted/{split}{''.join(extra)}.csv"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "tinyactions.app.predict",
                f"{synth}/{ANNOTATION_FILES[split]}",
                "--out",
                str(out),
                *extra,
            ],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"--lr-only: \d+ of 4 members \(no super-resolution\); val F1 [.\d]+ cross-validated", run.stderr)
    val, expected = (read_predictions(p) for p in (tmp_path / "predicted/val.csv", Workspace(repo).val_predictions))
    for column in ("id", "video", "readable", "labels"):
        assert val[column].tolist() == expected[column].tolist(), column
    np.testing.assert_array_equal(val[list(SCORE_COLUMNS)].to_numpy(), expected[list(SCORE_COLUMNS)].to_numpy())
    test = read_predictions(tmp_path / "predicted/test.csv")
    assert format_answer(test["id"].tolist(), predicted_matrix(test)) == (repo / "submission/answer.txt").read_text()
    # --lr-only delivers on val the F1 the bundle states for it
    bundle = json.loads((repo / "submission/bundle.json").read_text())
    ids, labels = truth(pd.read_parquet(repo / "data/prepared/val.parquet"))
    lr_only = read_predictions(tmp_path / "predicted/val--lr-only.csv")
    assert lr_only["id"].tolist() == ids
    assert metrics.per_class(labels, predicted_matrix(lr_only)).macro_f1_present == pytest.approx(
        bundle["lr_only"]["val_f1"]["in_sample"], abs=1e-12
    )

    again = dvc(repo, env, "repro")
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
    assert dvc(repo, env, "status", "-q").returncode == 0

    # a distillation weight reruns only the student and what follows
    KD = {"distill@ircsn_kd", "dump_student@ircsn_kd"}
    assert ran(repo, env, {"students": {"ircsn_kd": {**STUDENT, "alpha": 0.3}}}) == KD | {"evaluate"}
    # a threshold parameter reruns only the tail
    assert ran(repo, env, {"thresholds": {"strategy": "f1"}}) == {"evaluate"}
    # super-resolution settings rerun what reads super-resolved video, never a low-res run
    assert ran(repo, env, {"superres": {"overlap": 1}}) == {
        "superres_fit",
        "superres",
        "train@uniformer_sr",
        "dump@uniformer_sr",
        "teacher@ircsn_kd",
        *KD,
        "evaluate",
    }
    # execution settings (how stages run, never what they compute) rerun nothing after a finished run
    assert (
        ran(
            repo,
            env,
            {
                "execution": {
                    "loader_workers": 1,
                    "score_chunk": 3,
                    "superres_batch": 2,
                    "data_workers": 2,
                    "batch_per_process": 4,
                }
            },
        )
        == set()
    )
    assert dvc(repo, env, "status", "-q").returncode == 0
    # a typo fails the whole run before any stage works, naming the key; nothing else ran
    params = yaml.safe_load((repo / "params.yaml").read_text())
    typo_params = deep_update(copy.deepcopy(params), {"students": {"ircsn_kd": {"alhpa": 0.3}}})
    (repo / "params.yaml").write_text(yaml.safe_dump(typo_params))
    typo = dvc(repo, env, "repro")
    assert (
        typo.returncode != 0
        and ("validate: students.ircsn_kd.alhpa: unknown key (did you mean students.ircsn_kd.alpha?)")
        in typo.stdout + typo.stderr
    )
    assert set(re.findall(r"Running stage '([^']+)'", typo.stdout)) == {"validate"}, typo.stdout
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(repo, env, {}) == set()

    # a queued sweep runs from the committed state: each experiment reruns only the tail of its change
    commit(repo, env, "demo run")
    queued = dvc(repo, env, "exp", "run", "--queue", "-S", "students.ircsn_kd.alpha=0.2,0.8")
    assert queued.returncode == 0, queued.stderr
    assert dvc(repo, env, "queue", "start", "-j", "1").returncode == 0
    experiments = wait_for_queue(repo, env, expected=2)
    assert sorted(e["params"]["students"]["ircsn_kd"]["alpha"] for e in experiments.values()) == [0.2, 0.8]
    for name, e in experiments.items():
        assert 0.0 <= e["metrics"]["f1"] <= 1.0 and "ensemble" in e["metrics"], name
        log = dvc(repo, env, "queue", "logs", name).stdout
        assert set(re.findall(r"Running stage '([^']+)'", log)) == {"validate", *KD, "evaluate"}, log

    # CI regeneration from a DVC remote (scripts/leaderboard.sh, `make leaderboard`)
    assert dvc(repo, env, "remote", "add", "-d", "shared", str(tmp_path / "remote")).returncode == 0
    share(repo, env)
    # a variant already run and shared elsewhere is restored from the run-cache, not rerun
    assert ran(repo, env, {"thresholds": {"strategy": "fixed"}}) == {"evaluate"}
    share(repo, env)
    assert ran(repo, env, {"thresholds": {"strategy": "f1"}}) == set()
    commit(repo, env, "shared remote")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], env=env, check=True, capture_output=True)
    board = leaderboard(clone, env)
    assert "Running stage" not in board and "No leaderboard metric differs from main." in board, board
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["thresholds"]["strategy"] = "fixed"
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    board = leaderboard(clone, env)
    assert "Running stage" not in board and "Stage 'evaluate' is cached" in board, board
    assert re.search(r"\| metrics/leaderboard.json\s+\| f1 ", board), board
    # a decision-rule change nobody ran: evaluate is computed on the CI runner (it is allowed to)
    params["thresholds"]["strategy"] = "frequency"
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    board = leaderboard(clone, env)
    assert set(re.findall(r"Running stage '([^']+)'", board)) == {"validate", "evaluate"}, board
    assert re.search(r"\| metrics/leaderboard.json\s+\| ensemble.threshold_strategy\s+\| f1\s+\| frequency ", board)
    # a training change nobody ran: the CI job trains nothing; it fails and names the stale stages
    params["students"]["ircsn_kd"]["alpha"] = 0.65
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    board = leaderboard(clone, env, returncode=1)
    stale = board[board.index("leaderboard: stale, and not in the remote's run-cache") :]
    assert re.findall(r"^  (\S+)$", stale, flags=re.M) == ["distill@ircsn_kd"], board
    assert "after them, not reached: dump_student@ircsn_kd" in stale, board
    assert "train: stale and not in the run-cache; this machine computes only validate,evaluate" in board
    assert not (set(re.findall(r"Running stage '([^']+)'", board)) - {"validate", "distill@ircsn_kd"}), board
    assert dvc(clone, env, "status", "-q").returncode != 0
    # a machine that may train: its stages also read the videos behind their manifests, fetched, then run
    board = leaderboard(clone, dict(env, LEADERBOARD_RUN_STALE="1"))
    assert "fetching all pipeline data" in board, board
    assert set(re.findall(r"Running stage '([^']+)'", board)) >= KD | {"evaluate"}, board
    assert dvc(clone, env, "status", "-q").returncode == 0
    # shrinking the run list: the stale score table left on disk does not leak into the leaderboard
    shrink = {
        "runs": {"uniformer_sr": TINY_PARAMS["runs"]["uniformer_sr"]},
        "ensemble": {"members": ["uniformer_sr@last", "ircsn_kd@best"], "ablation_runs": []},
    }
    assert ran(repo, env, shrink) == {"evaluate"}
    assert (repo / "data/scores/ircsn_lr.parquet").exists()
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    assert set(board["runs"]) == {"uniformer_sr", "ircsn_kd"}


def share(repo: Path, env: dict) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tinyactions.app.sharing", "push"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]


def leaderboard(repo: Path, env: dict, returncode: int = 0) -> str:
    out = subprocess.run(["bash", "scripts/leaderboard.sh"], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == returncode, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def wait_for_queue(repo: Path, env: dict, expected: int, timeout: float = 900) -> dict:
    """Poll `dvc exp show` until `expected` experiments finished; return name -> {params, metrics}."""
    deadline = time.monotonic() + timeout
    while True:
        shown = json.loads(dvc(repo, env, "exp", "show", "--json").stdout)
        done = {}
        for base in shown:
            for exp in base.get("experiments") or []:
                rev = exp["revs"][0]
                if (exp.get("executor") or {}).get("state", "success") == "success" and rev.get("data"):
                    done[rev["name"]] = {
                        "params": rev["data"]["params"]["params.yaml"]["data"],
                        "metrics": rev["data"]["metrics"]["metrics/leaderboard.json"]["data"],
                    }
        failed = dvc(repo, env, "queue", "status").stdout
        assert "Failed" not in failed, failed
        if len(done) >= expected:
            dvc(repo, env, "queue", "stop")
            return done
        assert time.monotonic() < deadline, failed
        time.sleep(5)


def ran(repo: Path, env: dict, change: dict) -> set[str]:
    """Apply a params change, `dvc repro`, and return the stages that ran."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params = deep_update(params, {k: v for k, v in change.items() if k not in ("runs", "students")})
    for key in ("runs", "students"):  # run lists are replaced, not merged
        if key in change:
            params[key] = change[key]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = dvc(repo, env, "repro")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return set(re.findall(r"Running stage '([^']+)'", out.stdout)) - {"validate"}  # reruns on every change
