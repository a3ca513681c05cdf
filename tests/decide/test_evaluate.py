"""The evaluate stage's analysis on small score matrices: best epochs, honest selection, group rules, and
the whole evaluate() on a tiny workspace whose answer is known."""

import copy
import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import threshold_config
from tinyactions import settings
from tinyactions.challenge import metrics
from tinyactions.challenge.annotations import CLASSES, LABEL_COLUMNS, SCORE_COLUMNS
from tinyactions.challenge.submission import format_answer
from tinyactions.core.errors import SettingsError
from tinyactions.core.files import file_digest
from tinyactions.core.paths import Workspace
from tinyactions.decide import bundle, crossval, evaluate
from tinyactions.decide.checkpoint_scores import Checkpoints
from tinyactions.decide.folds import grouped_folds
from tinyactions.decide.intervals import Bootstrap
from tinyactions.score import best_epoch
from tinyactions.score.member import Member
from tinyactions.score.settings import Dump

ROOT = Path(__file__).resolve().parents[2]
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
            ids = (VAL_IDS if split == "val" else TEST_IDS)[: len(scores)]
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
TEST[2, :2] = [0.9, 0.8]  # both of an exclusive pair: post-processing keeps the top one
TEST[3] = np.nan  # a test video prepare found unreadable: its line is all zeros


def checkpoints(tables: dict) -> Checkpoints:
    return Checkpoints.from_tables(tables, VAL_IDS, TEST_IDS)


def test_a_runs_best_epoch_in_sample_and_its_last_epoch_at_map_and_fold_fitted_f1():
    t = table("a", {1: PERFECT * 0.5, 2: PERFECT, 3: NOISE, 4: PERFECT * 0.2 + NOISE * 0.2}, TEST)
    boot, folds = Bootstrap.over(SOURCES, 200, 0), grouped_folds(LABELS, SOURCES, 4, 0)
    row = evaluate.run_rows(checkpoints({"a": t}), LABELS, "mAP", boot, rule(), folds)["a"]
    assert row["best_epoch"] == 2 and row["f1_at_0.5_in_sample"] == 1.0  # the class val lacks is not a 0
    assert row["mAP_in_sample"] == pytest.approx(1.0)
    at_half = row["f1_at_0.5_by_epoch"]
    assert at_half["2"] == row["f1_at_0.5_in_sample"] > at_half["3"] and at_half["1"] == 0.0
    # epoch 1 ranks every video like epoch 2 (same mAP) but predicts nothing at 0.5: best by F1 differs only in ties
    by_f1 = evaluate.run_rows(checkpoints({"a": t}), LABELS, "f1", boot, rule(), folds)["a"]
    assert by_f1["best_epoch"] == 2
    # the last epoch (not chosen on val): threshold-free, and with thresholds fitted in the other folds, each
    # with its interval over source videos; at 0.5 it predicts almost nothing, fitted it recognises
    last = (PERFECT * 0.2 + NOISE * 0.2).astype(np.float32)  # every score below 0.5
    assert row["last_epoch"] == 4 and row["mAP_last"] == pytest.approx(
        np.nanmean(metrics.average_precision(LABELS, last))
    )
    fitted = crossval.cv_predictions(last.astype(np.float64), LABELS, rule(), folds, [])
    assert row["f1_cv_last"] == pytest.approx(metrics.per_class(LABELS, fitted).macro_f1_present)
    assert row["f1_cv_last"] > at_half["4"] + 0.2
    for key in ("mAP_last", "f1_cv_last"):
        assert row[f"{key}_ci"]["lo"] <= row[key] <= row[f"{key}_ci"]["hi"]


def test_checkpoints_join_on_ids_and_name_missing_ones():
    t = table("a", {1: NOISE, 2: PERFECT}, TEST)
    ck = checkpoints({"a": t.sample(frac=1.0, random_state=0)})  # row order does not matter
    assert ck.keys == [("a", 1), ("a", 2)] and ck.epochs() == {"a": [1, 2]} and ck.name(1) == "a@2"
    np.testing.assert_array_equal(ck.val[1], PERFECT.astype(np.float32))
    np.testing.assert_array_equal(ck.test[0], TEST.astype(np.float32))
    with pytest.raises(KeyError, match=r"scores of a@1 lack val ids \['v001'\]"):
        checkpoints({"a": t[~((t["id"] == "v001") & (t["epoch"] == 1))]})


def rule(**changes) -> crossval.Rule:
    base = dict(
        members=[Member("a", "best")],
        weights=None,
        config=threshold_config(strategy="f1", folds=4, seed=0),
        freq=LABELS.mean(0),
        groups=[],
        apply=False,
        keep="score",
        best_by="mAP",
    )
    return crossval.Rule(**{**base, **changes})


SOURCES = np.array([f"src{i // 4}" for i in range(N_VAL)])  # 4 clips per source video


def test_selection_inside_the_folds_finds_the_perfect_checkpoint():
    val = crossval.Val(
        checkpoints({"noise": table("noise", {1: NOISE}, TEST), "good": table("good", {2: PERFECT}, TEST)}),
        LABELS,
        SOURCES,
    )
    honest = crossval.nested_greedy(rule(), val, max_members=1)
    f1, picks = honest.f1, [d.members for d in honest.decisions]
    assert [val.checkpoints.name(p[0]) for p in picks] == ["good@2"] * 4 and f1 == 1.0


def test_selection_never_picks_a_checkpoint_outside_the_pool():
    """Ablation runs (ensemble.ablation_runs) are reported, never selected: with the perfect run left out
    of the pool, the selection takes the other one."""
    ck = checkpoints({"noise": table("noise", {1: NOISE}, TEST), "good": table("good", {2: PERFECT}, TEST)})
    val = crossval.Val(ck, LABELS, SOURCES, pool=(ck.index("noise", 1),))
    honest = crossval.nested_greedy(rule(), val, max_members=3)
    assert {ck.name(m) for d in honest.decisions for m in d.members} == {"noise@1"}
    assert crossval.greedy(rule(), val, np.ones(N_VAL, bool), max_members=1) == [ck.index("noise", 1)]


def test_member_epochs_are_chosen_inside_the_folds():
    """A checkpoint that is best on all of val thanks to a few source videos is not best where those are
    held out: the nested estimate resolves ``best`` on each fold's training part, and the in-sample
    number (choices made on the videos scored) is the optimistic one."""
    lucky = NOISE.copy()
    lucky[:8] = PERFECT[:8]  # perfect on the first two source videos only
    weak = PERFECT * 0.1 + NOISE * 0.9
    val = crossval.Val(checkpoints({"a": table("a", {1: weak, 2: lucky}, TEST)}), LABELS, SOURCES)
    r = rule()
    everything = np.ones(N_VAL, bool)
    folds = val.folds(everything, r)
    final = crossval.decide(r, val, everything)
    assert final.members == [val.checkpoints.index("a", 2)]
    honest = crossval.nested(r, val)
    f1, decisions = honest.f1, honest.decisions
    for f, decision in enumerate(decisions):  # each fold's member is its own training part's best
        train = folds != f
        scores = {
            e: best_epoch.epoch_score(val.checkpoints.val[val.checkpoints.index("a", e)][train], LABELS[train], "mAP")
            for e in (1, 2)
        }
        assert decision.members == [val.checkpoints.index("a", max(scores, key=scores.get))]
    assert {d.members[0] for d in decisions} == {0, 1}  # the fold holding the lucky videos out picks the other
    in_sample = metrics.per_class(
        LABELS, crossval.predict(final, crossval.member_scores(final, r, val.checkpoints.val))
    ).macro_f1
    assert f1 < in_sample - 0.05


def test_margin_post_processing_uses_each_videos_own_fold_thresholds():
    """keep: margin ranks a group's predicted classes by score minus threshold: in cross-validation the
    thresholds fitted without the video's fold, after the fit on all of val its thresholds."""
    from tinyactions.decide import postprocess, thresholds

    rng = np.random.default_rng(4)
    labels = (rng.random((80, 26)) < np.linspace(0.5, 0.05, 26)).astype(np.int8)
    scores = np.clip(labels * 0.25 + rng.random((80, 26)) * 0.75, 0, 1)
    folds, group = np.arange(80) % 4, [[0, 5]]  # a frequent class and a rarer one, their thresholds apart
    margin, score = rule(keep="margin", groups=group, apply=True), rule(keep="score", groups=group, apply=True)
    rows = thresholds.cross_validated_thresholds(scores, labels, margin.config, margin.freq, folds)
    by_margin = crossval.cv_predictions(scores, labels, margin, folds, group)
    assert (by_margin == postprocess.apply((scores >= rows).astype(np.int8), scores, group, rows)).all()
    assert (by_margin != crossval.cv_predictions(scores, labels, score, folds, group)).any(), (
        "the two rules differ here"
    )
    fitted = thresholds.fit(scores, labels, margin.config, margin.freq)
    decision = crossval.Decision([0], fitted, group, "margin")
    expected = postprocess.apply(thresholds.predict(scores, fitted), scores, group, fitted)
    assert (crossval.predict(decision, scores) == expected).all()
    assert (
        crossval.predict(decision, scores) != crossval.predict(crossval.Decision([0], fitted, group, "score"), scores)
    ).any()


def test_folds_keep_source_videos_together_and_spread_every_class():
    rng = np.random.default_rng(5)
    labels = (rng.random((300, 26)) < np.linspace(0.4, 0.02, 26)).astype(np.int8)
    sources = rng.integers(0, 60, 300)
    folds = grouped_folds(labels, sources, 5, seed=0)
    assert sorted(np.unique(folds)) == [0, 1, 2, 3, 4]
    assert all(len(set(folds[sources == s])) == 1 for s in np.unique(sources))  # a scene never straddles folds

    def spread(folds):  # per class: positives of the fullest fold minus those of the emptiest
        per_fold = np.array([labels[folds == f].sum(0) for f in range(5)])
        return per_fold.max(0) - per_fold.min(0)

    drawn = [spread(np.random.default_rng(s).permutation(60)[sources] % 5) for s in range(20)]  # groups at random
    assert spread(folds).sum() < 0.8 * np.mean([d.sum() for d in drawn])
    rarest = labels.sum(0) <= 2 * 5  # at most two positives per fold
    largest_source = np.array([labels[sources == s].sum(0) for s in np.unique(sources)]).max(0)
    assert (spread(folds)[rarest] <= largest_source[rarest]).all()  # rare classes as even as sources allow
    np.testing.assert_array_equal(folds, grouped_folds(labels, sources, 5, seed=0))  # seeded: reproducible
    assert len(np.unique(grouped_folds(labels[:8], ["a", "a", "b", "b", "b", "c", "c", "c"], 5, 0))) == 3
    with pytest.raises(ValueError, match="at least 2 source videos"):
        grouped_folds(labels[:3], ["a"] * 3, 5, 0)


def test_group_rules():
    derived = [["Opening", "Closing"]]
    assert evaluate.group_names("none", derived) == [] and evaluate.group_names([["Push", "Pull"]], derived) == [
        ["Push", "Pull"]
    ]
    assert evaluate.group_names("derive", derived) == derived
    names = [["a", "b"], ["c", "d"]]
    gains = [0.01, -0.02]
    assert crossval.applied(rule(groups=names, apply="auto"), gains) == [["a", "b"]]
    assert crossval.applied(rule(groups=names, apply=True), gains) == names
    assert crossval.applied(rule(groups=names, apply=False), gains) == []


def write_val_index(root: Path) -> Path:
    """data/prepared/val.parquet of LABELS under ``root``; returns data/prepared."""
    prepared = root / "data/prepared"
    prepared.mkdir(parents=True)
    val = pd.DataFrame(LABELS, columns=list(LABEL_COLUMNS))
    val.insert(0, "flip", False)
    val.insert(0, "path", [f"videos/val/{s}/{i}.mp4" for s, i in zip(SOURCES, VAL_IDS)])
    val.insert(0, "video_id", SOURCES)
    val.insert(0, "id", VAL_IDS)
    val.to_parquet(prepared / "val.parquet")
    return prepared


def tiny_workspace(tmp_path: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Prepared data, the score tables of an SR run (good: epoch 2 perfect) and a low-res student (kd:
    noise), a generator file, and params naming them; returns (params, good's table, kd's table)."""
    prepared = write_val_index(tmp_path)
    pd.DataFrame({"id": TEST_IDS}).to_parquet(prepared / "test.parquet")
    counts = {c: int(n) for c, n in zip(CLASSES, LABELS.sum(0) + 1)}
    (prepared / "stats.json").write_text(json.dumps({"videos": {"train": 50}, "class_counts": {"train": counts}}))
    together = pd.DataFrame(0, index=list(CLASSES), columns=list(CLASSES))
    for c in CLASSES[2:5]:  # frequent enough in train, never together: a derived group (an ablation row)
        together.loc[c, c] = 20
    together.to_csv(prepared / "cooccurrence.csv")
    scores = tmp_path / "data/scores"
    scores.mkdir(parents=True)
    good = table("good", {1: NOISE, 2: PERFECT}, TEST)
    made = {"precision": "fp32", "device": "cpu", "batch": 32, "versions": {"torch": "2.14.1"}}
    good.attrs = {  # as its dump records them
        **made,
        "checkpoints": {"1": "a" * 64, "2": "b" * 64},
        "canary": {"1": [[0.1] * 26] * 3, "2": [[0.2] * 26] * 3},
    }
    good.to_parquet(scores / "good.parquet")
    kd = table("kd", {1: NOISE}, TEST)
    kd.attrs = {**made, "checkpoints": {"1": "c" * 64}}
    kd.to_parquet(scores / "kd.parquet")
    (tmp_path / "models/superres").mkdir(parents=True)
    (tmp_path / "models/superres/generator.pth").write_bytes(b"generator")
    p = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))
    p["runs"] = {"good": {"backbone": "ircsn", "input": "sr", "loss": "bce", "lr": 0.1, "epochs": 2}}
    p["students"] = {
        "kd": {
            "backbone": "ircsn",
            "input": "lr",
            "loss": "kd",
            "teacher": "good",
            "teacher_epoch": "best",
            "alpha": 0.5,
            "lr": 0.1,
            "epochs": 1,
        }
    }
    p["ensemble"].update(members=["good@last"], greedy={"enabled": False, "max_members": 1}, ablation_runs=[])
    p["thresholds"].update(folds=4)
    p["postprocess"].update(groups=[[CLASSES[0], CLASSES[1]]], apply=True)
    return p, good, kd


def test_an_ablation_run_is_reported_but_never_selected(tmp_path):
    """ensemble.ablation_runs: the perfect run is in the runs' rows, and neither the single best nor the
    greedy selection picks it, in-sample or inside any fold."""
    p, _, _ = tiny_workspace(tmp_path)
    p["ensemble"].update(members=["kd@1"], greedy={"enabled": True, "max_members": 3}, ablation_runs=["good"])
    board = evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    assert set(board["runs"]) == {"good", "kd"} and board["runs"]["good"]["f1_cv_last"] == 1.0
    assert board["single_best"]["run"] == "kd" and set(board["single_best"]["selected_per_fold"]) == {"kd@1"}
    assert {m for fold in board["greedy_selection"]["members_per_fold"] for m in fold} == {"kd@1"}
    assert board["ensemble"]["members"] == ["kd@1"]


def test_evaluate_on_a_tiny_workspace(tmp_path):
    p, good, _ = tiny_workspace(tmp_path)
    board = evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    assert board["ensemble"]["members"] == ["good@2"] and board["single_best"]["run"] == "good"
    ens = board["ensemble"]
    assert ens["f1_thresholds_in_sample"] == 1.0 and ens["f1_thresholds_cv"] == 1.0
    # the two classes do co-occur in these labels: the group costs F1, is applied anyway (apply: true), and
    # the submission's val F1 is the post-processed one
    gain = ens["group_gain_cv"][f"{CLASSES[0]} | {CLASSES[1]}"]
    assert gain < 0 and board["f1_in_sample"] == ens["f1_postprocess_in_sample"] < 1.0
    # the estimate averages the 25 classes val has positives of; over all 26 (the absent one at 0) it is lower
    assert board["classes_with_positives"] == 25
    assert board["f1_all_classes"] == pytest.approx(board["f1"] * 25 / 26)
    assert board["f1"] == ens["f1_postprocess_cv"] and board["folds"] == {
        "k": 4,
        "grouped_by": "video_id",
        "source_videos": 10,
    }
    answer = (tmp_path / "submission/answer.txt").read_text().splitlines()
    assert [line.split()[0] for line in answer] == TEST_IDS
    assert answer[0].split()[1:3] == ["1", "0"] and answer[1].split()[1:3] == ["0", "1"]
    assert answer[2].split()[1:3] == ["1", "0"] and board["ensemble"]["groups_applied"] == [list(CLASSES[:2])]
    assert all(set(line.split()[1:]) == {"0"} for line in answer[3:])
    assert json.loads((tmp_path / "metrics/leaderboard.json").read_text()) == json.loads(json.dumps(board))
    # the bundle: the submission rule in one file, and answer.txt is its decision on the test scores
    ensemble = bundle.load(tmp_path / "submission/bundle.json")
    assert [(m.run, m.epoch, m.input, m.checkpoint, m.sha256) for m in ensemble.members] == [
        ("good", 2, "sr", "models/good/epoch_2.pth", "b" * 64)
    ]
    assert ensemble.groups == [list(CLASSES[:2])] and ensemble.classes == list(CLASSES)
    # the paper keeps a group's top score; the ablation keeping the largest margin is reported and compared
    assert ensemble.keep == ens["postprocess_keep"] == "score" and ens["postprocess_other_keep"]["keep"] == "margin"
    assert "post-processing keeping the largest margin vs the top score" in board["comparisons"]
    assert ensemble.superres.sha256 == hashlib.sha256(b"generator").hexdigest()
    assert ensemble.scoring.model_dump() == {
        "views": p["dump"]["views"],
        "precision": p["dump"]["precision"],
        "batch": 32,
        "made_with": {"precision": "fp32", "device": "cpu"},
        "versions": {"torch": "2.14.1"},
    }
    assert ensemble.members[0].canary == [[0.2] * 26] * 3  # the member's own epoch
    assert ensemble.lr_only is None and "lr_only" not in board, "no low-res member"
    test_rows = good[(good.split == "test") & (good.epoch == 2)].set_index("id").loc[TEST_IDS]
    _, decided = bundle.decide(ensemble, [test_rows[list(SCORE_COLUMNS)].to_numpy(np.float64)])
    assert format_answer(TEST_IDS, decided).splitlines() == answer
    text = (tmp_path / "metrics/ablation.md").read_text()
    good = board["runs"]["good"]
    assert (
        f"| good | ircsn | sr | bce | uniform | True | {good['mAP_last']:.3f} [{good['mAP_last_ci']['lo']:.3f}, "
        f"{good['mAP_last_ci']['hi']:.3f}] | {good['f1_cv_last']:.3f} [{good['f1_cv_last_ci']['lo']:.3f}, "
        f"{good['f1_cv_last_ci']['hi']:.3f}] | – | 2 |" in text
    )
    chance = float(np.mean(LABELS[:, :-1].mean(axis=0)))  # the last class has no val positives
    assert board["chance_mAP"] == pytest.approx(chance) and f"Chance level: mAP {chance:.3f}" in text
    assert good["mAP_last"] == pytest.approx(np.nanmean(metrics.average_precision(LABELS, PERFECT)))
    # every number of Table 3 with its interval; the few source videos are named
    lo, hi = board["f1_ci"]["lo"], board["f1_ci"]["hi"]
    assert lo <= board["f1"] <= hi and f"**{board['f1']:.3f} [{lo:.3f}, {hi:.3f}]**" in text
    assert (
        "over the 10 source videos of val" in text and "only 10 source videos: these intervals are approximate" in text
    )
    assert board["intervals"]["coverage"].startswith("approximate: below 200 source videos")
    assert "Coverage: approximate: below 200 source videos" in text
    # the groups derived from train co-occurrence: an ablation row beside the configured ones
    derived = board["ensemble"]["derived_groups"]
    assert derived["groups"] and derived["groups"] != board["ensemble"]["groups"] and "cv_ci" in derived
    assert "| + post-processing with groups derived from train co-occurrence (ablation) |" in text


def test_the_bundle_carries_its_low_res_variant_and_its_decisions_on_val(tmp_path):
    p, good, kd = tiny_workspace(tmp_path)
    p["ensemble"]["members"] = ["good@last", "kd@1"]
    board = evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    ensemble = bundle.load(tmp_path / "submission/bundle.json")
    val = {
        name: t[(t.split == "val") & (t.epoch == e)]
        .set_index("id")
        .loc[VAL_IDS, list(SCORE_COLUMNS)]
        .to_numpy(np.float32)  # as the checkpoints hold dumped scores
        for name, t, e in (("good", good, 2), ("kd", kd, 1))
    }
    # val_predictions.csv: the bundle's decisions on val, each video named as predict names it
    written = bundle.read_predictions(tmp_path / "submission/val_predictions.csv")
    scores, decided = bundle.decide(ensemble, [val["good"], val["kd"]])
    assert written["id"].tolist() == VAL_IDS and written["readable"].all()
    assert written["video"].tolist() == [
        f"{p['data']['root']}/videos/val/{s}/{i}.mp4" for s, i in zip(SOURCES, VAL_IDS)
    ]
    np.testing.assert_array_equal(written[list(SCORE_COLUMNS)].to_numpy(), scores)
    assert (bundle.predicted_matrix(written) == decided).all()
    assert metrics.per_class(LABELS, decided).macro_f1_present == pytest.approx(ensemble.val_f1.in_sample)
    # the low-res variant: the student alone, its own thresholds, and the F1 it is stated to cost
    low = bundle.lr_only(ensemble)
    assert [(m.run, m.epoch) for m in low.members] == [("kd", 1)] and low.superres is None
    assert low.thresholds != ensemble.thresholds
    _, low_decided = bundle.decide(low, [val["kd"]])
    assert metrics.per_class(LABELS, low_decided).macro_f1_present == pytest.approx(low.val_f1.in_sample)
    assert {k: v for k, v in board["lr_only"].items() if not k.endswith("_ci")} == {
        "members": ["kd@1"],
        "f1_cv": low.val_f1.cv,
        "f1_in_sample": low.val_f1.in_sample,
    }
    assert low.val_f1.cv < ensemble.val_f1.cv, "noise alone against noise + a perfect run"
    # what SR adds, paired over the same source videos: the perfect SR member's absence costs F1 for sure
    added = board["comparisons"]["all members vs low-res members alone"]
    assert added["difference"] == pytest.approx(ensemble.val_f1.cv - low.val_f1.cv)
    assert 0 < added["ci"]["lo"] <= added["difference"] <= added["ci"]["hi"] and added["reading"] == "separated"
    assert "low-res members alone (`predict --lr-only`)" in (tmp_path / "metrics/ablation.md").read_text()
    # a weight of 0 on every low-res member leaves no low-res ensemble
    p["ensemble"]["weights"] = [1.0, 0.0]
    evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    with pytest.raises(bundle.BundleError, match="no member reads low-res video"):
        bundle.lr_only(bundle.load(tmp_path / "submission/bundle.json"))


def test_members_are_distinct_checkpoints():
    """best and last never fall on one checkpoint: with the best epoch last, best is the runner-up."""
    t = table("a", {1: NOISE, 2: PERFECT * 0.8 + 0.1, 3: NOISE * 0.5, 4: PERFECT}, TEST)
    members = [Member.parse(m) for m in ("a@best", "a@last", "a@1")]
    asked = []

    def score(run):
        asked.append(run)
        return best_epoch.per_epoch(t, VAL_IDS, LABELS, "mAP")

    assert best_epoch.resolve_members(members, {"a": [1, 2, 3, 4]}, score) == [2, 4, 1] and asked == ["a"]
    assert best_epoch.resolve(Member.parse("a@best"), t, VAL_IDS, LABELS, "mAP", "k") == 4  # a run's own best
    with pytest.raises(SettingsError, match="^students.s.teacher_epoch: a@9: epoch 9 was not dumped"):
        best_epoch.resolve(Member.parse("a@9"), t, VAL_IDS, LABELS, "mAP", "students.s.teacher_epoch")
    with pytest.raises(SettingsError, match="^ensemble.members: a@last: every dumped epoch of a"):
        best_epoch.resolve_members(
            [Member.parse(m) for m in ("a@1", "a@2", "a@3", "a@4", "a@last")], {"a": [1, 2, 3, 4]}, score
        )


def test_a_teachers_epoch_follows_the_one_best_epoch_rule(tmp_path, monkeypatch):
    """teacher@<student> resolves its checkpoint on the teacher's val dump by the rule of the leaderboard's
    best epoch and of ensemble members (best_by), and writes data/teachers/<student>.parquet."""
    from tinyactions.score import teacher

    ws = Workspace(tmp_path)
    prepared = write_val_index(tmp_path)
    pd.DataFrame({"sample_id": ["t1", "t1:flip"]}).to_parquet(prepared / "train.parquet")
    (tmp_path / "data/scores").mkdir()
    dumped = table("sr", {1: PERFECT * 0.5, 2: PERFECT, 3: NOISE}, TEST)
    dumped.to_parquet(tmp_path / "data/scores/sr.parquet")
    scored = []

    def score_split(spec, checkpoints, index, video_root, split, **kwargs):
        scored.append((sorted(checkpoints), video_root, split, kwargs["views"], kwargs["precision"]))
        return pd.DataFrame({"sample_id": index["sample_id"], "epoch": list(checkpoints)[0]})

    monkeypatch.setattr(teacher, "score_split", score_split)
    spec = None  # the recipe only reaches score_split
    for written, by, expected in (("best", "mAP", 2), ("last", "mAP", 3), ("1", "mAP", 1), ("best", "f1", 2)):
        epoch = teacher.score_teacher(spec, Member("sr", written), "kd", by, Dump(views=2, precision="bf16"), 4, ws)
        assert epoch == expected and scored[-1] == ([expected], str(ws.superres), "train", 2, "bf16")
        if written == "best":
            assert (
                epoch
                == evaluate.run_rows(
                    checkpoints({"sr": dumped}),
                    LABELS,
                    by,
                    Bootstrap.over(SOURCES, 100, 0),
                    rule(),
                    grouped_folds(LABELS, SOURCES, 4, 0),
                )["sr"]["best_epoch"]
            )
    written = pd.read_parquet(tmp_path / "data/teachers/kd.parquet")
    assert written["sample_id"].tolist() == ["t1", "t1:flip"] and (written["epoch"] == 2).all()
    (tmp_path / "data/scores/sr.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=rf"^students.kd.teacher: {re.escape(str(ws.scores('sr')))} is missing"):
        teacher.score_teacher(spec, Member("sr", "best"), "kd", "mAP", Dump(views=1, precision="fp32"), 4, ws)


def test_fewer_source_videos_than_folds_is_one_line_naming_both(tmp_path):
    p, _, _ = tiny_workspace(tmp_path)
    p["thresholds"].update(folds=11)
    with pytest.raises(SettingsError, match=r"^thresholds.folds: 11 folds, but val has 10 source videos"):
        evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    p["thresholds"].update(folds=4)
    board = evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    frequency = board["ensemble"]["strategies"]["frequency"]  # the fitted rule reports its (a, b)
    assert len(frequency["a_b_per_fold"]) == 4 and len(frequency["a_b_in_sample"]) == 2
    flat = board["ensemble"]["strategies"]["flat"]  # and the flat one its one threshold
    assert len(flat["t_per_fold"]) == 4 and len(flat["t_in_sample"]) == 1
    assert set(board["ensemble"]["strategies"]) == {"fixed", "flat", "f1", "frequency", "frequency_set"}


def test_replicas_of_a_recipe_report_their_spread_over_seeds():
    """Runs that differ only in their seed are replicas: the mean and sd of their mAP and fold-fitted F1 at
    the last epoch."""
    import dataclasses

    from tests.conftest import run_spec

    base = run_spec(name="a")
    specs = {
        "a": base,
        "a_s1": dataclasses.replace(base, name="a_s1", seed=1),
        "a_s2": dataclasses.replace(base, name="a_s2", seed=2),
        "b": dataclasses.replace(base, name="b", input="sr"),
    }
    rows = {
        name: {"mAP_last": value, "f1_cv_last": value / 2}
        for name, value in (("a", 0.2), ("a_s1", 0.3), ("a_s2", 0.4), ("b", 0.5))
    }
    (spread,) = evaluate.replica_spread(rows, specs)
    assert spread["runs"] == ["a", "a_s1", "a_s2"] and spread["seeds"] == [base.seed, 1, 2]
    assert spread["mAP_last_mean"] == pytest.approx(0.3) and spread["mAP_last_sd"] == pytest.approx(0.1)
    assert spread["f1_cv_last_mean"] == pytest.approx(0.15) and spread["f1_cv_last_sd"] == pytest.approx(0.05)
    p = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))
    p["runs"]["ircsn_lr_s7"] = {**p["runs"]["ircsn_lr"], "seed": 7}
    s = settings.parse(p)
    assert s.run_spec("ircsn_lr_s7").seed == 7 and s.run_spec("ircsn_lr").seed == p["train"]["seed"]
    assert dataclasses.replace(s.run_spec("ircsn_lr_s7"), name="ircsn_lr", seed=p["train"]["seed"]) == s.run_spec(
        "ircsn_lr"
    )


def test_runs_are_compared_only_with_their_twin_in_one_component():
    """SR vs LR, KD vs LR, ...: a pair differs in that component only (a run with another lr or seed has
    no twin); the submission rule's steps pair the cross-validated decisions Table 3 shows."""
    import dataclasses

    from tests.conftest import run_spec

    lr = run_spec(name="lr")
    specs = {
        "lr": lr,
        "sr": dataclasses.replace(lr, name="sr", input="sr"),
        "sr_fast": dataclasses.replace(lr, name="sr_fast", input="sr", lr=lr.lr * 10),
        "kd": dataclasses.replace(lr, name="kd", loss="kd", kd_alpha=0.5),
        "sr_s1": dataclasses.replace(lr, name="sr_s1", input="sr", seed=lr.seed + 1),
    }
    last = {name: NOISE for name in specs}
    last["sr"] = PERFECT
    cv = {"thresholds f1": (PERFECT > 0.5).astype(np.int8), "single best": (NOISE > 0.5).astype(np.int8)}
    folds = grouped_folds(LABELS, SOURCES, 4, 0)
    found = evaluate.run_comparisons(Bootstrap.over(SOURCES, 200, 0), LABELS, cv, last, specs, rule(), folds)
    assert sorted(found) == [
        "KD vs LR (F1, thresholds fitted in the folds): kd vs lr",
        "KD vs LR (mAP): kd vs lr",
        "SR vs LR (F1, thresholds fitted in the folds): sr vs lr",
        "SR vs LR (mAP): sr vs lr",
        "ensemble vs single best",
    ]
    for metric in ("mAP", "F1, thresholds fitted in the folds"):
        sr = found[f"SR vs LR ({metric}): sr vs lr"]
        assert sr["metric"] == metric and sr["reading"] == "separated"
        assert sr["difference"] > 0 and 0 < sr["ci"]["lo"] <= sr["difference"] <= sr["ci"]["hi"]
    kd = found["KD vs LR (mAP): kd vs lr"]  # the same scores on both sides: nothing to detect
    assert kd["difference"] == 0 and kd["ci"] == {"lo": 0.0, "hi": 0.0} and kd["smallest_detectable"] == 0.0


def test_compute_takes_arrays_and_touches_no_file(tmp_path, monkeypatch):
    """evaluate is load -> compute -> write: compute on in-memory inputs, in an empty folder, gives what the
    stage writes from the files holding the same data."""
    p, good, kd = tiny_workspace(tmp_path)
    s = settings.parse(p)
    counts = np.array([int(n) for n in LABELS.sum(0) + 1], float)
    together = pd.read_csv(tmp_path / "data/prepared/cooccurrence.csv", index_col=0)
    inputs = evaluate.Inputs(
        val_ids=VAL_IDS,
        labels=LABELS,
        videos=SOURCES,
        val_paths=[str(Path(s.data.root) / f"videos/val/{v}/{i}.mp4") for v, i in zip(SOURCES, VAL_IDS)],
        test_ids=TEST_IDS,
        train_videos=50,
        train_counts=counts,
        cooccurrence=together,
        tables={"good": pd.read_parquet(tmp_path / "data/scores/good.parquet"), "kd": kd},
        generator_sha256=file_digest(tmp_path / "models/superres/generator.pth"),
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    out = evaluate.compute(s, inputs)
    assert list(empty.iterdir()) == []
    assert set(out.plots) == {"per_class_f1.csv", "thresholds.csv", "threshold_curves.csv"}
    assert len(out.answer.splitlines()) == len(TEST_IDS) and len(out.val_predictions) == len(VAL_IDS)
    board = evaluate.evaluate(s, Workspace(tmp_path))  # the stage's job, in the workspace it is given
    assert list(empty.iterdir()) == [], "nothing written where the process runs"
    assert json.dumps(out.board) == json.dumps(board)
    assert (tmp_path / "submission/answer.txt").read_text() == out.answer
    assert json.loads((tmp_path / "submission/bundle.json").read_text()) == out.bundle


def test_evaluate_logs_each_pair_of_a_configured_group_seen_together(tmp_path):
    """A group the data contradicts shows in the log of the stage that applies it (prepare does not read
    postprocess.groups, so a change to the groups reruns no stage before evaluate)."""
    p, _, _ = tiny_workspace(tmp_path)
    s = settings.parse(p)
    inputs = evaluate.load(s, Workspace(tmp_path))
    assert [line for level, line in evaluate.compute(s, inputs).summary if "postprocess.groups" in line] == []
    a, b = CLASSES[0], CLASSES[1]  # the configured group
    inputs.cooccurrence.loc[a, b] = inputs.cooccurrence.loc[b, a] = 3
    warned = [(level, line) for level, line in evaluate.compute(s, inputs).summary if "postprocess.groups" in line]
    assert warned == [
        (logging.WARNING, f"postprocess.groups: {a} & {b} share 3 train videos, though a group calls them exclusive")
    ]


def test_evaluate_removes_what_a_killed_run_left_half_written(tmp_path):
    """A killed evaluate leaves its temporaries in submission/ and metrics/; the next run removes them
    (those of a live process stay)."""
    import os
    import socket

    p, _, _ = tiny_workspace(tmp_path)
    host = re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:64]
    dead = 2**22 + 12345  # beyond the kernel's pid range: no live process has it
    orphans = [tmp_path / folder / f".tmp-{host}-{dead}-0123456789ab.json" for folder in ("submission", "metrics")]
    live = tmp_path / "metrics" / f".tmp-{host}-{os.getpid()}-0123456789ab.json"
    for path in (*orphans, live):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    evaluate.evaluate(settings.parse(p), Workspace(tmp_path))
    assert not any(o.exists() for o in orphans) and live.exists()
