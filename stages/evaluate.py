"""Stage evaluate: per-run leaderboard, the ensemble, thresholds, post-processing, answer.txt, report.

Reads the score tables of every run in params (runs + the KD student; never a glob, so removed runs
cannot leak in) and the prepared val labels. Writes submission/answer.txt, metrics/leaderboard.json,
metrics/ablation.md, metrics/per_class_f1.csv, metrics/thresholds.csv, metrics/threshold_curves.csv.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tinyactions import ensemble as E
from tinyactions import metrics as M
from tinyactions import params as P
from tinyactions import postprocess, thresholds as T
from tinyactions.annotations import CLASSES, LABEL_COLUMNS
from tinyactions.atomic import write_json, write_table, write_text
from tinyactions.report import ablation_markdown
from tinyactions.submission import format_answer
from stages.train import PREPARED

SCORES = Path("data/scores")
METRICS = Path("metrics")
ANSWER = Path("submission/answer.txt")


def run_names(p: dict) -> list[str]:
    names = list(P.get(p, "runs", dict))
    return names + [P.get(p, "kd.student.name", str)]


def ensemble_members(p: dict) -> tuple[list[E.Member], list[float] | None]:
    """ensemble.members (each naming a run of this pipeline) and ensemble.weights (null or one per member)."""
    runs = set(run_names(p))
    members = [E.Member.parse(m) for m in P.get(p, "ensemble.members", list)]
    for m in members:
        if m.run not in runs:
            raise P.ParamError(f"ensemble.members: {m} names no run of this pipeline")
    weights = P.get(p, "ensemble.weights", (list, type(None)))
    if weights is not None and len(weights) != len(members):
        raise P.ParamError(f"ensemble.weights: {len(weights)} weights for {len(members)} members")
    return members, weights


def threshold_config(p: dict) -> T.ThresholdConfig:
    return T.ThresholdConfig(strategy=P.get(p, "thresholds.strategy", str, choices=T.STRATEGIES),
                             prior=P.get(p, "thresholds.prior", float, minimum=0.0, maximum=1.0),
                             min_positives=P.get(p, "thresholds.min_positives", int, minimum=0),
                             low=P.get(p, "thresholds.low", float, minimum=0.0, maximum=1.0),
                             high=P.get(p, "thresholds.high", float, minimum=0.0, maximum=1.0),
                             shrink_to=P.get(p, "thresholds.shrink_to", str, choices=T.SHRINK_TARGETS))


def cv_predictions(scores, labels, config, freq, folds, seed, groups=None) -> np.ndarray:
    """Held-out predictions: thresholds fitted on the other folds (post-processing has no fitted part)."""
    out = T.cross_validated_predictions(scores, labels, config, freq, folds, seed)
    return postprocess.apply(out, scores, groups) if groups else out


def cv_selection_f1(candidates, labels, config, freq, folds, seed, max_members) -> tuple[float, list[str]]:
    """Greedy selection measured honestly: members and thresholds chosen on k-1 folds, scored on the held-out."""
    assignment = T.fold_assignment(len(labels), folds, seed + 1)
    out = np.zeros_like(labels, dtype=np.int8)
    picks = []
    for f in np.unique(assignment):
        held = assignment == f
        chosen = E.greedy_select({k: v[~held] for k, v in candidates.items()}, labels[~held], config,
                                 max_members=max_members, folds=folds, seed=seed, train_frequency=freq)
        picks.append(chosen)
        avg = E.average([candidates[m] for m in chosen])
        t = T.fit(avg[~held], labels[~held], config, freq)
        out[held] = T.predict(avg[held], t)
    return M.per_class(labels, out).macro_f1, picks


def main() -> None:
    log = P.setup_logging("evaluate")
    p = P.load()
    config = threshold_config(p)
    folds = P.get(p, "thresholds.folds", int, minimum=2)
    seed = P.get(p, "thresholds.seed", int)
    val = pd.read_parquet(PREPARED / "val.parquet")
    val = val[~val["flip"]].reset_index(drop=True)
    val_ids, labels = val["id"].tolist(), val[list(LABEL_COLUMNS)].to_numpy(np.int8)
    test = pd.read_parquet(PREPARED / "test.parquet")
    test_ids = test["id"].tolist()
    stats = json.loads((PREPARED / "stats.json").read_text())
    train_counts = np.array([stats["class_counts"]["train"][c] for c in CLASSES], float)
    freq = train_counts / max(stats["videos"]["train"], 1)

    tables = {}
    for name in run_names(p):
        path = SCORES / f"{name}.parquet"
        if not path.is_file():
            raise P.ParamError(f"runs.{name}: score table {path} is missing (dump@{name} first)")
        tables[name] = pd.read_parquet(path)

    leaderboard = {"runs": {}}
    for name, table in tables.items():
        f1_by_epoch = E.epoch_f1(table, val_ids, labels)
        best = E.resolve(E.Member(name, "best"), table, val_ids, labels, P.get(p, "ensemble.best_by", str))
        scores = E.split_matrix(table, "val", best, val_ids)
        summary = M.summary(labels, (scores >= 0.5).astype(int))
        leaderboard["runs"][name] = {"best_epoch": best, "f1": summary["macro_f1"],
                                     "mAP": E.epoch_map(table, val_ids, labels)[best],
                                     "precision": summary["macro_precision"], "recall": summary["macro_recall"],
                                     "f1_last_epochs": float(np.mean(list(f1_by_epoch.values())[-3:])),
                                     "f1_by_epoch": {str(k): v for k, v in f1_by_epoch.items()}}
    best_run = max(leaderboard["runs"], key=lambda k: leaderboard["runs"][k]["f1"])

    members, weights = ensemble_members(p)
    best_by = P.get(p, "ensemble.best_by", str, choices=E.BEST_BY)
    resolved = [(m, E.resolve(m, tables[m.run], val_ids, labels, best_by)) for m in members]
    val_members = [E.split_matrix(tables[m.run], "val", e, val_ids) for m, e in resolved]
    test_members = [E.split_matrix(tables[m.run], "test", e, test_ids) for m, e in resolved]
    val_avg, test_avg = E.average(val_members, weights), E.average(test_members, weights)

    groups_param = P.get(p, "postprocess.groups", (str, list))
    if groups_param == "derive":
        co = pd.read_csv(PREPARED / "cooccurrence.csv", index_col=0)
        names = postprocess.derive_groups(co, stats["videos"]["train"],
                                          P.get(p, "postprocess.min_expected", float, minimum=0.0))
    elif groups_param == "none":
        names = []
    elif isinstance(groups_param, list):
        names = groups_param
    else:
        raise P.ParamError(f"postprocess.groups: expected derive, none or a list of class lists, got {groups_param!r}")
    groups = postprocess.validate_groups(names)

    thresholds = T.fit(val_avg, labels, config, freq)
    ens_fixed = T.predict(val_avg, np.full(len(CLASSES), 0.5))
    ens_thr = T.predict(val_avg, thresholds)
    ens_post = postprocess.apply(ens_thr, val_avg, groups)
    post_scores = M.per_class(labels, ens_post)
    cv_thr = M.per_class(labels, cv_predictions(val_avg, labels, config, freq, folds, seed)).macro_f1
    cv_post = M.per_class(labels, cv_predictions(val_avg, labels, config, freq, folds, seed, groups)).macro_f1
    group_gain = {}
    for g_names, g in zip(names, groups):
        with_g = M.per_class(labels, cv_predictions(val_avg, labels, config, freq, folds, seed, [g])).macro_f1
        group_gain[" | ".join(g_names)] = with_g - cv_thr
    single = E.split_matrix(tables[best_run], "val", leaderboard["runs"][best_run]["best_epoch"], val_ids)
    single_cv = M.per_class(labels, cv_predictions(single, labels, config, freq, folds, seed)).macro_f1

    leaderboard["single_best"] = {"run": best_run, "f1": leaderboard["runs"][best_run]["f1"],
                                  "mAP": leaderboard["runs"][best_run]["mAP"],
                                  "f1_thresholds_in_sample": M.per_class(labels, T.predict(single, T.fit(
                                      single, labels, config, freq))).macro_f1,
                                  "f1_thresholds_cv": single_cv}
    leaderboard["ensemble"] = {
        "members": [f"{m.run}@{e}" for m, e in resolved],
        "mAP": float(np.nanmean(M.average_precision(labels, np.nan_to_num(val_avg)))),
        "f1_at_0.5": M.per_class(labels, ens_fixed).macro_f1,
        "f1_thresholds_in_sample": M.per_class(labels, ens_thr).macro_f1,
        "f1_thresholds_cv": cv_thr,
        "f1_postprocess_in_sample": post_scores.macro_f1,
        "f1_postprocess_cv": cv_post,
        "precision": float(post_scores.precision.mean()),
        "recall": float(post_scores.recall.mean()),
        "threshold_strategy": config.strategy,
        "groups": names, "group_gain_cv": group_gain,
    }
    # every checkpoint of every run: the single best one chosen inside the folds is the honest baseline
    candidates = {f"{name}@{e}": E.split_matrix(t, "val", int(e), val_ids)
                  for name, t in tables.items() for e in sorted(t["epoch"].unique())}
    f1, picks = cv_selection_f1(candidates, labels, config, freq, folds, seed, max_members=1)
    leaderboard["single_best"]["f1_selected_cv"] = f1
    leaderboard["single_best"]["selected_per_fold"] = [p[0] for p in picks]
    if P.get(p, "ensemble.greedy.enabled", bool):
        f1, picks = cv_selection_f1(candidates, labels, config, freq, folds, seed,
                                    P.get(p, "ensemble.greedy.max_members", int, minimum=1))
        leaderboard["greedy_selection"] = {"f1_cv": f1, "members_per_fold": picks}
    apply_mode = P.get(p, "postprocess.apply", (str, bool))
    if apply_mode not in (True, False, "auto"):
        raise P.ParamError(f"postprocess.apply: expected true, false or auto, got {apply_mode!r}")
    # auto: only the groups whose cross-validated gain is positive
    applied = [(n, g) for n, g in zip(names, groups)
               if apply_mode is True or (apply_mode == "auto" and group_gain[" | ".join(n)] > 0)]
    applied_groups = [g for _, g in applied]
    leaderboard["ensemble"]["groups_applied"] = [n for n, _ in applied]
    final_test = T.predict(np.nan_to_num(test_avg, nan=-1.0), thresholds)
    final_test = postprocess.apply(final_test, test_avg, applied_groups) if applied_groups else final_test
    write_text(ANSWER, format_answer(test_ids, final_test))

    final_val = postprocess.apply(ens_thr, val_avg, applied_groups) if applied_groups else ens_thr
    per_class = M.per_class(labels, final_val)
    single_pc = M.per_class(labels, (single >= 0.5).astype(int))
    write_table(METRICS / "per_class_f1.csv", pd.DataFrame({
        "class": list(CLASSES), "ensemble": per_class.f1, "single_best": single_pc.f1,
        "val_positives": per_class.support}))
    write_table(METRICS / "thresholds.csv", pd.DataFrame({
        "class": list(CLASSES), "threshold": thresholds, "train_frequency": freq, "val_positives": labels.sum(0)}))
    grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
    curves = [{"class": c, "threshold": t, "f1": float(M.per_class(labels[:, [k]], (val_avg[:, [k]] >= t).astype(int)).f1[0])}
              for k, c in enumerate(CLASSES) if labels[:, k].sum() > 0 for t in grid]
    write_table(METRICS / "threshold_curves.csv", pd.DataFrame(curves))
    leaderboard["f1"] = per_class.macro_f1  # the submission's rule on val, in-sample
    leaderboard["f1_cv"] = M.per_class(labels, cv_predictions(val_avg, labels, config, freq, folds, seed,
                                                              applied_groups)).macro_f1
    write_json(METRICS / "leaderboard.json", leaderboard)
    write_text(METRICS / "ablation.md", ablation_markdown(leaderboard, p))
    log.info("single best %s %.4f | ensemble %.4f -> thresholds %.4f (cv %.4f) -> post-processing %.4f (cv %.4f)",
             best_run, leaderboard["single_best"]["f1"], leaderboard["ensemble"]["f1_at_0.5"],
             leaderboard["ensemble"]["f1_thresholds_in_sample"], cv_thr,
             leaderboard["ensemble"]["f1_postprocess_in_sample"], cv_post)
    log.info("submission rule: thresholds + %d of %d groups; val F1 %.4f (cv %.4f)", len(applied_groups),
             len(groups), leaderboard["f1"], leaderboard["f1_cv"])
    log.info("wrote %s (%d test videos)", ANSWER, len(test_ids))


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"evaluate: {e}")
