"""The evaluate stage's analysis on small score matrices: best epochs, honest selection, group rules, and
the whole evaluate() on a tiny workspace whose answer is known."""
import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tinyactions import leaderboard as L
from tinyactions import settings
from tinyactions import thresholds as T
from tinyactions.annotations import CLASSES, LABEL_COLUMNS, SCORE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
N_VAL, N_TEST = 40, 6
LABELS = (RNG.random((N_VAL, len(CLASSES))) < 0.3).astype(np.int8)
LABELS[:, -1] = 0  # a class without val positives, as on small splits
VAL_IDS = [f"v{i:03d}" for i in range(N_VAL)]
TEST_IDS = [f"{i:05d}" for i in range(N_TEST)]  # the challenge's numeric test ids


def table(run: str, val_by_epoch: dict[int, np.ndarray], test: np.ndarray) -> pd.DataFrame:
    rows = []
    for epoch, val in val_by_epoch.items():
        for split, scores in (("val", val), ("test", test)):
            frame = pd.DataFrame(scores, columns=list(SCORE_COLUMNS))
            ids = (VAL_IDS if split == "val" else TEST_IDS)[:len(scores)]
            frame.insert(0, "readable", True)
            frame.insert(0, "sample_id", ids)
            frame.insert(0, "id", ids)
            frame.insert(0, "split", split)
            frame.insert(0, "epoch", epoch)
            frame.insert(0, "run", run)
            rows.append(frame)
    return pd.concat(rows, ignore_index=True)


PERFECT = LABELS * 0.9 + 0.05  # separates every class at any threshold in (0.05, 0.95)
NOISE = RNG.random((N_VAL, len(CLASSES)))
TEST = np.zeros((N_TEST, len(CLASSES)))
TEST[0, 0] = TEST[1, 1] = 0.9


def test_best_epoch_f1_per_epoch_and_last_three():
    t = table("a", {1: NOISE, 2: PERFECT, 3: NOISE}, TEST)
    row = L.run_rows({"a": t}, VAL_IDS, LABELS, "mAP")["a"]
    assert row["best_epoch"] == 2 and row["f1"] == pytest.approx(25 / 26)  # the empty class scores 0
    assert row["mAP"] == pytest.approx(1.0)
    assert row["f1_by_epoch"]["2"] == row["f1"] > row["f1_by_epoch"]["1"]
    assert row["f1_last_epochs"] == pytest.approx(np.mean(list(row["f1_by_epoch"].values())))


def test_selection_inside_the_folds_finds_the_perfect_checkpoint():
    folds = L.Folds(T.ThresholdConfig(strategy="f1"), LABELS.mean(0), 4, 0)
    f1, picks = L.cv_selection_f1({"noise@1": NOISE, "good@2": PERFECT}, LABELS, folds, max_members=1)
    assert picks == [["good@2"]] * 4 and f1 == pytest.approx(25 / 26)


def test_group_rules():
    co = pd.DataFrame(0, index=list(CLASSES), columns=list(CLASSES))
    assert L.group_names("none", co, 10, 1.0) == [] and L.group_names([["Push", "Pull"]], co, 10, 1.0) == [["Push", "Pull"]]
    names = [["a", "b"], ["c", "d"]]
    gains = {"a | b": 0.01, "c | d": -0.02}
    assert L.applied_groups(names, gains, "auto") == [["a", "b"]]
    assert L.applied_groups(names, gains, True) == names and L.applied_groups(names, gains, False) == []


def test_evaluate_on_a_tiny_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prepared = tmp_path / "data/prepared"
    prepared.mkdir(parents=True)
    val = pd.DataFrame(LABELS, columns=list(LABEL_COLUMNS))
    val.insert(0, "flip", False)
    val.insert(0, "id", VAL_IDS)
    val.to_parquet(prepared / "val.parquet")
    pd.DataFrame({"id": TEST_IDS}).to_parquet(prepared / "test.parquet")
    counts = {c: int(n) for c, n in zip(CLASSES, LABELS.sum(0) + 1)}
    (prepared / "stats.json").write_text(json.dumps({"videos": {"train": 50}, "class_counts": {"train": counts}}))
    pd.DataFrame(0, index=list(CLASSES), columns=list(CLASSES)).to_csv(prepared / "cooccurrence.csv")
    scores = tmp_path / "data/scores"
    scores.mkdir(parents=True)
    table("good", {1: NOISE, 2: PERFECT}, TEST).to_parquet(scores / "good.parquet")
    table("kd", {1: NOISE}, TEST).to_parquet(scores / "kd.parquet")
    p = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))
    p["runs"] = {"good": {"backbone": "ircsn", "input": "sr", "loss": "bce", "lr": 0.1, "epochs": 2}}
    p["kd"].update(teacher="good", student={"name": "kd", "backbone": "ircsn", "lr": 0.1, "epochs": 1})
    p["ensemble"].update(members=["good@best", "good@last"], greedy={"enabled": False, "max_members": 1})
    p["thresholds"].update(folds=4)
    p["postprocess"].update(groups="none")
    board = L.evaluate(settings.parse(p))
    assert board["ensemble"]["members"] == ["good@2", "good@2"] and board["single_best"]["run"] == "good"
    assert board["f1"] == pytest.approx(25 / 26) and board["f1_cv"] == pytest.approx(25 / 26)
    answer = (tmp_path / "submission/answer.txt").read_text().splitlines()
    assert [line.split()[0] for line in answer] == TEST_IDS
    assert answer[0].split()[1:3] == ["1", "0"] and answer[1].split()[1:3] == ["0", "1"]
    assert all(set(line.split()[1:]) == {"0"} for line in answer[2:])
    assert json.loads((tmp_path / "metrics/leaderboard.json").read_text()) == json.loads(json.dumps(board))
    assert "| good | ircsn | sr | uniform | True | 2 |" in (tmp_path / "metrics/ablation.md").read_text()
