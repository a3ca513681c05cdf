"""The evaluate stage's analysis: per-run numbers, the ensemble, thresholds, post-processing, and what of
it is an honest (cross-validated) estimate.

Thresholds are fitted on val, so a number measured on the same val is in-sample; every ``*_cv`` number
fits on k-1 folds of val and scores the held-out fold. ``evaluate`` reads the score tables of every run
of the settings (never a glob, so removed runs cannot leak in) and writes submission/answer.txt,
metrics/leaderboard.json, metrics/ablation.md and the per-class plots.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import ensemble as E
from . import metrics as M
from . import paths, postprocess
from . import thresholds as T
from .annotations import CLASSES
from .atomic import write_json, write_table, write_text
from .index import truth
from .report import ablation_markdown
from .settings import Settings, SettingsError
from .submission import format_answer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Folds:
    """How thresholds are fitted and the honest estimate is drawn."""

    config: T.ThresholdConfig
    freq: np.ndarray  # train frequency per class (the frequency rule's input)
    folds: int
    seed: int


def cv_predictions(scores: np.ndarray, labels: np.ndarray, f: Folds, groups=None) -> np.ndarray:
    """Held-out predictions: thresholds fitted on the other folds (post-processing has no fitted part)."""
    out = T.cross_validated_predictions(scores, labels, f.config, f.freq, f.folds, f.seed)
    return postprocess.apply(out, scores, groups) if groups else out


def cv_f1(scores: np.ndarray, labels: np.ndarray, f: Folds, groups=None) -> float:
    return M.per_class(labels, cv_predictions(scores, labels, f, groups)).macro_f1


def cv_selection_f1(candidates: dict[str, np.ndarray], labels: np.ndarray, f: Folds,
                    max_members: int) -> tuple[float, list[list[str]]]:
    """Greedy selection measured honestly: members and thresholds chosen on k-1 folds, scored on the held-out."""
    assignment = T.fold_assignment(len(labels), f.folds, f.seed + 1)
    out = np.zeros_like(labels, dtype=np.int8)
    picks = []
    for fold in np.unique(assignment):
        held = assignment == fold
        chosen = E.greedy_select({k: v[~held] for k, v in candidates.items()}, labels[~held], f.config,
                                 max_members=max_members, folds=f.folds, seed=f.seed, train_frequency=f.freq)
        picks.append(chosen)
        avg = E.average([candidates[m] for m in chosen])
        t = T.fit(avg[~held], labels[~held], f.config, f.freq)
        out[held] = T.predict(avg[held], t)
    return M.per_class(labels, out).macro_f1, picks


def run_rows(tables: dict[str, pd.DataFrame], val_ids: list[str], labels: np.ndarray, best_by: str) -> dict:
    """Per run: its best epoch (by ``best_by``), F1/precision/recall at 0.5 and mAP there, F1 per epoch."""
    rows = {}
    for name, table in tables.items():
        f1_by_epoch = E.per_epoch(table, val_ids, labels, "f1")
        best = E.resolve(E.Member(name, "best"), table, val_ids, labels, best_by)
        summary = M.summary(labels, (E.split_matrix(table, "val", best, val_ids) >= 0.5).astype(int))
        rows[name] = {"best_epoch": best, "f1": summary["macro_f1"],
                      "mAP": E.per_epoch(table, val_ids, labels, "mAP")[best],
                      "precision": summary["macro_precision"], "recall": summary["macro_recall"],
                      "f1_last_epochs": float(np.mean(list(f1_by_epoch.values())[-3:])),
                      "f1_by_epoch": {str(k): v for k, v in f1_by_epoch.items()}}
    return rows


def group_names(setting, cooccurrence: pd.DataFrame, train_videos: int, min_expected: float) -> list[list[str]]:
    """postprocess.groups: derived from train co-occurrence, none, or the listed groups."""
    if setting == "derive":
        return postprocess.derive_groups(cooccurrence, train_videos, min_expected)
    return [] if setting == "none" else [list(g) for g in setting]


def applied_groups(names: list[list[str]], gains: dict[str, float], mode) -> list[list[str]]:
    """postprocess.apply: every group (true), none (false), or those whose cross-validated gain is positive."""
    return [n for n in names if mode is True or (mode == "auto" and gains[" | ".join(n)] > 0)]


def evaluate(s: Settings) -> dict:
    """Everything the evaluate stage writes; returns the leaderboard."""
    val_ids, labels = truth(pd.read_parquet(paths.index("val")))
    test_ids = pd.read_parquet(paths.index("test"))["id"].tolist()
    stats = json.loads((paths.PREPARED / "stats.json").read_text())
    train_counts = np.array([stats["class_counts"]["train"][c] for c in CLASSES], float)
    t = s.thresholds
    config = T.ThresholdConfig(strategy=t.strategy, prior=t.prior, min_positives=t.min_positives, low=t.low,
                               high=t.high, shrink_to=t.shrink_to)
    f = Folds(config, train_counts / max(stats["videos"]["train"], 1), s.thresholds.folds,
              s.thresholds.seed)
    tables = {}
    for name in s.run_names():
        path = paths.SCORES / f"{name}.parquet"
        if not path.is_file():
            raise SettingsError(f"{s.run_key(name)}: score table {path} is missing ({'dump_student' if name in s.students else 'dump'}@{name} first)")
        tables[name] = pd.read_parquet(path)

    best_by = s.best_by
    board = {"runs": run_rows(tables, val_ids, labels, best_by)}
    best_run = max(board["runs"], key=lambda k: board["runs"][k]["f1"])

    members = s.members()
    resolved = list(zip(members, E.resolve_members(members, tables, val_ids, labels, best_by)))
    weights = s.ensemble.weights
    val_avg = E.average([E.split_matrix(tables[m.run], "val", e, val_ids) for m, e in resolved], weights)
    test_avg = E.average([E.split_matrix(tables[m.run], "test", e, test_ids) for m, e in resolved], weights)

    names = group_names(s.postprocess.groups, pd.read_csv(paths.PREPARED / "cooccurrence.csv", index_col=0),
                        stats["videos"]["train"], s.postprocess.min_expected)
    groups = postprocess.validate_groups(names)

    thresholds = T.fit(val_avg, labels, f.config, f.freq)
    ens_thr = T.predict(val_avg, thresholds)
    post_scores = M.per_class(labels, postprocess.apply(ens_thr, val_avg, groups))
    cv_thr, cv_post = cv_f1(val_avg, labels, f), cv_f1(val_avg, labels, f, groups)
    group_gain = {" | ".join(n): cv_f1(val_avg, labels, f, [g]) - cv_thr for n, g in zip(names, groups)}
    single = E.split_matrix(tables[best_run], "val", board["runs"][best_run]["best_epoch"], val_ids)

    board["single_best"] = {"run": best_run, "f1": board["runs"][best_run]["f1"],
                            "mAP": board["runs"][best_run]["mAP"],
                            "f1_thresholds_in_sample": M.per_class(labels, T.predict(single, T.fit(
                                single, labels, f.config, f.freq))).macro_f1,
                            "f1_thresholds_cv": cv_f1(single, labels, f)}
    board["ensemble"] = {
        "members": [f"{m.run}@{e}" for m, e in resolved],
        "mAP": float(np.nanmean(M.average_precision(labels, np.nan_to_num(val_avg)))),
        "f1_at_0.5": M.per_class(labels, T.predict(val_avg, np.full(len(CLASSES), 0.5))).macro_f1,
        "f1_thresholds_in_sample": M.per_class(labels, ens_thr).macro_f1,
        "f1_thresholds_cv": cv_thr,
        "f1_postprocess_in_sample": post_scores.macro_f1,
        "f1_postprocess_cv": cv_post,
        "precision": float(post_scores.precision.mean()),
        "recall": float(post_scores.recall.mean()),
        "threshold_strategy": f.config.strategy,
        "groups": names, "group_gain_cv": group_gain,
    }
    # every checkpoint of every run: the single best one chosen inside the folds is the honest baseline
    candidates = {f"{name}@{e}": E.split_matrix(t, "val", int(e), val_ids)
                  for name, t in tables.items() for e in sorted(t["epoch"].unique())}
    f1, picks = cv_selection_f1(candidates, labels, f, max_members=1)
    board["single_best"]["f1_selected_cv"] = f1
    board["single_best"]["selected_per_fold"] = [p[0] for p in picks]
    if s.ensemble.greedy.enabled:
        f1, picks = cv_selection_f1(candidates, labels, f, s.ensemble.greedy.max_members)
        board["greedy_selection"] = {"f1_cv": f1, "members_per_fold": picks}

    applied = applied_groups(names, group_gain, s.postprocess.apply)
    final_groups = postprocess.validate_groups(applied)
    board["ensemble"]["groups_applied"] = applied
    final_test = T.predict(np.nan_to_num(test_avg, nan=-1.0), thresholds)
    final_test = postprocess.apply(final_test, test_avg, final_groups) if final_groups else final_test
    write_text(paths.ANSWER, format_answer(test_ids, final_test))

    final_val = postprocess.apply(ens_thr, val_avg, final_groups) if final_groups else ens_thr
    per_class = M.per_class(labels, final_val)
    write_plots(labels, val_avg, per_class, M.per_class(labels, (single >= 0.5).astype(int)), thresholds, f.freq)
    board["f1"] = per_class.macro_f1  # the submission's rule on val, in-sample
    board["f1_cv"] = cv_f1(val_avg, labels, f, final_groups)
    write_json(paths.METRICS / "leaderboard.json", board)
    write_text(paths.METRICS / "ablation.md", ablation_markdown(board, {n: s.run_spec(n) for n in s.run_names()}))
    log.info("single best %s %.4f | ensemble %.4f -> thresholds %.4f (cv %.4f) -> post-processing %.4f (cv %.4f)",
             best_run, board["single_best"]["f1"], board["ensemble"]["f1_at_0.5"],
             board["ensemble"]["f1_thresholds_in_sample"], cv_thr, board["ensemble"]["f1_postprocess_in_sample"],
             cv_post)
    log.info("submission rule: thresholds + %d of %d groups; val F1 %.4f (cv %.4f)", len(final_groups),
             len(groups), board["f1"], board["f1_cv"])
    log.info("wrote %s (%d test videos)", paths.ANSWER, len(test_ids))
    return board


def write_plots(labels, val_avg, per_class, single_per_class, thresholds, freq) -> None:
    """Per-class F1 (ensemble vs single best), thresholds, and F1-vs-threshold curves, for `dvc plots`."""
    write_table(paths.METRICS / "per_class_f1.csv", pd.DataFrame({
        "class": list(CLASSES), "ensemble": per_class.f1, "single_best": single_per_class.f1,
        "val_positives": per_class.support}))
    write_table(paths.METRICS / "thresholds.csv", pd.DataFrame({
        "class": list(CLASSES), "threshold": thresholds, "train_frequency": freq, "val_positives": labels.sum(0)}))
    grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
    curves = [{"class": c, "threshold": t,
               "f1": float(M.per_class(labels[:, [k]], (val_avg[:, [k]] >= t).astype(int)).f1[0])}
              for k, c in enumerate(CLASSES) if labels[:, k].sum() > 0 for t in grid]
    write_table(paths.METRICS / "threshold_curves.csv", pd.DataFrame(curves))
