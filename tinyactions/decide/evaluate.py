"""The evaluate stage's analysis: per-run numbers, the ensemble, thresholds, post-processing, and what of
it is an honest (cross-validated) estimate.

Member epochs, thresholds and group gating are chosen on val, so a number measured on the same val is
in-sample (``*_in_sample``); every ``*_cv`` number makes every such choice on k-1 folds of val (grouped by
source video) and scores the held-out fold (:mod:`tinyactions.decide.crossval`); every other number is
in-sample (the per-run rows: each run at its best epoch on val). The headline ``f1`` is the submission
rule's cross-validated F1. ``evaluate`` reads the score tables of every run
of the settings (never a glob, so removed runs cannot leak in) and writes submission/answer.txt,
metrics/leaderboard.json, metrics/ablation.md and the per-class plots.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tinyactions.challenge import metrics
from tinyactions.challenge.annotations import CLASSES
from tinyactions.challenge.submission import format_answer
from tinyactions.core import paths
from tinyactions.core.files import write_json, write_table, write_text
from tinyactions.data.index import truth
from tinyactions.decide import bundle, crossval, postprocess, thresholds
from tinyactions.decide.checkpoint_scores import Checkpoints
from tinyactions.decide.intervals import Bootstrap
from tinyactions.decide.report import FEW_SOURCES, ablation_markdown
from tinyactions.score import best_epoch
from tinyactions.settings import BEST_BY, STRATEGIES, Member, Settings, SettingsError

log = logging.getLogger(__name__)


def last_epoch_decisions(ck: Checkpoints) -> dict[str, np.ndarray]:
    """Each run's 0/1 decisions on val at 0.5 at its last epoch: an epoch not chosen on the val it is
    scored on, so runs compare without selection bias (unreadable videos: nothing predicted)."""
    return {
        run: (np.nan_to_num(ck.val[ck.index(run, epochs[-1])], nan=0.0) >= 0.5).astype(np.int8)
        for run, epochs in ck.epochs().items()
    }


def run_rows(ck: Checkpoints, labels: np.ndarray, best_by: str, boot: Bootstrap) -> dict:
    """Per run: its best epoch (by ``best_by``, chosen on all of val: in-sample), F1/precision/recall at
    0.5 and mAP there, F1 per epoch, and F1 at its last epoch (not chosen on val) with its interval."""
    score = {
        by: {key: best_epoch.epoch_score(ck.val[i], labels, by) for i, key in enumerate(ck.keys)} for by in BEST_BY
    }
    last = last_epoch_decisions(ck)
    rows = {}
    for run, epochs in ck.epochs().items():
        best = best_epoch.resolve_members(
            [Member(run, "best")], {run: epochs}, lambda r: {e: score[best_by][(r, e)] for e in epochs}
        )[0]
        summary = metrics.summary(labels, (ck.val[ck.index(run, best)] >= 0.5).astype(int))
        f1_by_epoch = {e: score["f1"][(run, e)] for e in epochs}
        rows[run] = {
            "best_epoch": best,
            "f1": summary["macro_f1"],
            "mAP": score["mAP"][(run, best)],
            "precision": summary["macro_precision"],
            "recall": summary["macro_recall"],
            "f1_last_epochs": float(np.mean(list(f1_by_epoch.values())[-3:])),
            "f1_by_epoch": {str(k): v for k, v in f1_by_epoch.items()},
            "last_epoch": epochs[-1],
            "f1_last": metrics.per_class(labels, last[run]).macro_f1,
            "f1_last_ci": boot.interval(labels, last[run]),
            "mAP_last": score["mAP"][(run, epochs[-1])],
        }
    return rows


def chance_map(labels: np.ndarray) -> float:
    """The mAP of scores that carry no information: a random ranking's AP is about the class's
    prevalence, averaged over the classes val has positives of (as mAP is)."""
    positives = labels.sum(axis=0)
    return float(np.mean(positives[positives > 0] / len(labels)))


# Run against run, at their last epochs: (name, what the first has, the recipe fields that differ); every
# other field of the two recipes (seed included) is the same
RUN_CONTRASTS = (
    ("SR vs LR", lambda a, b: (a.input, b.input) == ("sr", "lr"), ("input",)),
    ("KD vs LR", lambda a, b: (a.loss, b.loss) == ("kd", "bce"), ("loss", "kd_alpha")),
    ("balance vs none", lambda a, b: a.balance and not b.balance, ("balance",)),
    ("uniform vs dense sampling", lambda a, b: (a.sampling, b.sampling) == ("uniform", "dense"), ("sampling",)),
)
# The submission rule's steps, cross-validated: (name, decisions with, decisions without); ensemble and
# single best both with thresholds and without post-processing, as Table 3's rows
RULE_CONTRASTS = (
    ("ensemble vs single best", "thresholds {strategy}", "single best"),
    ("thresholds vs 0.5", "thresholds {strategy}", "at 0.5"),
    ("post-processing (all groups) vs none", "all groups", "thresholds {strategy}"),
    (
        "post-processing keeping the largest margin vs the top score",
        "all groups, keep margin",
        "all groups, keep score",
    ),
    ("all members vs low-res members alone", "rule", "low-res members"),
)


def replica_spread(rows: dict, specs: dict) -> list[dict]:
    """Runs of one recipe trained with other seeds (``runs.<name>.seed``): their F1 at the last epoch,
    mean and sample standard deviation, the spread a training seed alone makes."""
    recipes: dict[str, list[str]] = {}
    for name, spec in specs.items():
        recipe = {k: v for k, v in asdict(spec).items() if k not in ("name", "seed")}
        recipes.setdefault(json.dumps(recipe, sort_keys=True, default=str), []).append(name)
    out = []
    for names in recipes.values():
        if len(names) > 1:
            values = [rows[n]["f1_last"] for n in names]
            out.append(
                {
                    "runs": names,
                    "seeds": [specs[n].seed for n in names],
                    "f1_last_mean": float(np.mean(values)),
                    "f1_last_sd": float(np.std(values, ddof=1)),
                }
            )
    return out


def comparisons(
    boot: Bootstrap,
    labels: np.ndarray,
    cv: dict[str, np.ndarray],
    last: dict[str, np.ndarray],
    specs: dict,
    strategy: str,
) -> dict:
    """Paired differences in macro F1 with their intervals (the same source videos resampled for both):
    the submission rule's steps on out-of-fold decisions, and every pair of runs that differ in one
    component only, at their last epochs."""
    out = {}
    for name, with_, without in RULE_CONTRASTS:
        a, b = with_.format(strategy=strategy), without.format(strategy=strategy)
        if a in cv and b in cv:
            out[name] = _paired(boot, labels, cv[a], cv[b])
    for name, test, differs in RUN_CONTRASTS:
        for run_a, a in specs.items():
            for run_b, b in specs.items():
                alike = all(
                    getattr(a, f.name) == getattr(b, f.name) for f in fields(a) if f.name not in ("name", *differs)
                )
                if run_a != run_b and test(a, b) and alike:
                    out[f"{name}: {run_a} vs {run_b}"] = _paired(boot, labels, last[run_a], last[run_b])
    return out


def _paired(boot: Bootstrap, labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict:
    return {
        "difference": metrics.per_class(labels, a).macro_f1 - metrics.per_class(labels, b).macro_f1,
        "ci": boot.paired(labels, a, b),
    }


def group_names(setting, derived: list[list[str]]) -> list[list[str]]:
    """postprocess.groups: derived from train co-occurrence, none, or the listed groups."""
    if setting == "derive":
        return derived
    return [] if setting == "none" else [list(g) for g in setting]


def evaluate(s: Settings) -> dict:
    """Everything the evaluate stage writes; returns the leaderboard."""
    val_index = pd.read_parquet(paths.index("val"))
    val_ids, labels = truth(val_index)
    videos = val_index.loc[~val_index["flip"], "video_id"].to_numpy()
    test_ids = pd.read_parquet(paths.index("test"))["id"].tolist()
    stats = json.loads((paths.PREPARED / "stats.json").read_text())
    train_counts = np.array([stats["class_counts"]["train"][c] for c in CLASSES], float)
    tables = {}
    for name in s.run_names():
        path = paths.SCORES / f"{name}.parquet"
        if not path.is_file():
            raise SettingsError(
                f"{s.run_key(name)}: score table {path} is missing "
                f"({'dump_student' if name in s.students else 'dump'}@{name} first)"
            )
        tables[name] = pd.read_parquet(path)
    ck = Checkpoints.from_tables(tables, val_ids, test_ids)
    digests = {(name, e): d for name, t in tables.items() for e, d in bundle.checkpoint_digests(t).items()}
    canaries = {(name, e): c for name, t in tables.items() for e, c in bundle.canary_scores(t).items()}
    made = bundle.made_with(list(tables.values()))  # how the dumps scored
    del tables
    board = {}
    pool = tuple(i for i, (run, _) in enumerate(ck.keys) if run not in s.ensemble.ablation_runs)
    val = crossval.Val(ck, labels, videos, pool=pool)
    together = pd.read_csv(paths.PREPARED / "cooccurrence.csv", index_col=0)
    derived = postprocess.derive_groups(together, stats["videos"]["train"], s.postprocess.min_expected)
    names = group_names(s.postprocess.groups, derived)
    t = s.thresholds
    rule = crossval.Rule(
        members=s.members(),
        weights=s.ensemble.weights,
        config=thresholds.ThresholdConfig(
            strategy=t.strategy,
            prior=t.prior,
            min_positives=t.min_positives,
            low=t.low,
            high=t.high,
            shrink_to=t.shrink_to,
        ),
        freq=train_counts / max(stats["videos"]["train"], 1),
        groups=postprocess.validate_groups(names),
        apply=s.postprocess.apply,
        keep=s.postprocess.keep,
        best_by=s.best_by,
        folds=t.folds,
        seed=t.seed,
    )
    sources = len(set(videos))
    if sources < t.folds:
        raise SettingsError(
            f"thresholds.folds: {t.folds} folds, but val has {sources} source videos (folds are grouped by "
            "source video): set thresholds.folds to at most that"
        )
    everything = np.ones(len(labels), bool)
    outer = val.folds(everything, rule)
    boot = Bootstrap.over(videos, s.intervals.draws, s.intervals.seed, s.intervals.level)  # resamples source videos

    def f1(predicted: np.ndarray) -> float:
        return metrics.per_class(labels, predicted).macro_f1

    def fitted(r: crossval.Rule) -> tuple[crossval.Decision, np.ndarray]:
        """Rule ``r`` fitted on all of val and its (in-sample) decisions there."""
        decision = crossval.decide(r, val, everything)
        return decision, crossval.predict(decision, crossval.member_scores(decision, r, ck.val))

    def row(in_sample: np.ndarray | None, honest: np.ndarray | None) -> dict:
        """F1 of in-sample and cross-validated decisions, each with its interval over source videos."""
        out = {}
        for key, predicted in (("in_sample", in_sample), ("cv", honest)):
            if predicted is not None:
                out[key], out[f"{key}_ci"] = f1(predicted), boot.interval(labels, predicted)
        return out

    # the submission rule, fitted on all of val (in-sample), and refitted inside the folds (honest)
    final, final_predicted = fitted(rule)
    honest = crossval.nested(rule, val)
    cv = {"rule": honest.predicted}  # out-of-fold decisions, for the paired comparisons
    # its steps: the members at 0.5, + thresholds (each strategy), + every group, + each group alone
    thresholds_only = replace(rule, apply=False)
    strategies = {}
    for strategy in STRATEGIES:
        variant = replace(thresholds_only, config=replace(rule.config, strategy=strategy))
        decision, predicted = fitted(variant)
        nested = crossval.nested(variant, val)
        strategies[strategy] = row(predicted, nested.predicted)
        if decision.frequency is not None:  # the fitted rule's (a, b): on all of val, and in each fold
            strategies[strategy]["a_b_in_sample"] = list(decision.frequency)
            strategies[strategy]["a_b_per_fold"] = [list(d.frequency) for d in nested.decisions]
        cv[f"thresholds {strategy}"] = nested.predicted
    half = replace(rule, config=replace(rule.config, strategy="fixed", prior=0.5), apply=False)
    at_half = row(fitted(half)[1], cv.setdefault("at 0.5", crossval.nested(half, val).predicted))
    all_groups = replace(rule, apply=True)
    with_groups = row(fitted(all_groups)[1], cv.setdefault("all groups", crossval.nested(all_groups, val).predicted))
    cv[f"all groups, keep {rule.keep}"] = cv["all groups"]
    other = replace(all_groups, keep="score" if rule.keep == "margin" else "margin")  # the other postprocess.keep
    other_keep = {
        "keep": other.keep,
        **row(fitted(other)[1], cv.setdefault(f"all groups, keep {other.keep}", crossval.nested(other, val).predicted)),
    }
    base = strategies[rule.config.strategy]["cv"]
    derived_row = None
    if derived and derived != names:  # the ablation: groups derived from train co-occurrence instead
        derived_rule = replace(rule, groups=postprocess.validate_groups(derived), apply=True)
        derived_row = {"groups": derived, **row(fitted(derived_rule)[1], crossval.nested(derived_rule, val).predicted)}
    gains = [crossval.nested(replace(rule, groups=[g], apply=True), val).f1 - base for g in rule.groups]
    val_avg = crossval.member_scores(final, rule, ck.val)
    final_scores = metrics.per_class(labels, final_predicted)
    specs = {n: s.run_spec(n) for n in s.run_names()}
    submission_bundle = ensemble_bundle(
        s,
        specs,
        ck,
        digests,
        made,
        final,
        rule.weights,
        {"cv": honest.f1, "in_sample": final_scores.macro_f1},
        canaries,
    )
    # the same rule on the low-res members alone (what `predict --lr-only` applies): what SR adds on val
    low_res = [i for i, m in enumerate(rule.members) if specs[m.run].input == "lr"]
    if low_res and len(low_res) < len(rule.members) and (not rule.weights or sum(rule.weights[i] for i in low_res)):
        lr_rule = replace(
            rule,
            members=[rule.members[i] for i in low_res],
            weights=[rule.weights[i] for i in low_res] if rule.weights else None,
        )
        lr_final, lr_predicted = fitted(lr_rule)
        cv["low-res members"] = crossval.nested(lr_rule, val).predicted
        lr_row = row(lr_predicted, cv["low-res members"])
        lr_f1 = {"cv": lr_row["cv"], "in_sample": lr_row["in_sample"]}
        submission_bundle = bundle.with_lr_only(
            submission_bundle, ensemble_bundle(s, specs, ck, digests, made, lr_final, lr_rule.weights, lr_f1, canaries)
        )
        board["lr_only"] = {
            "members": [ck.name(i) for i in lr_final.members],
            "f1_cv": lr_row["cv"],
            "f1_cv_ci": lr_row["cv_ci"],
            "f1_in_sample": lr_row["in_sample"],
            "f1_in_sample_ci": lr_row["in_sample_ci"],
        }
    _, test_predicted = bundle.decide(submission_bundle, [ck.test[i] for i in final.members])
    val_scores, val_predicted = bundle.decide(submission_bundle, [ck.val[i] for i in final.members])

    # the single best checkpoint by the selection's own criterion: on all of val, and inside the folds
    best = crossval.greedy(rule, val, everything, max_members=1)[0]
    single = ck.val[best].astype(np.float64)
    selected = crossval.nested_greedy(rule, val, max_members=1)
    cv["single best"] = selected.predicted
    single_row = row(
        thresholds.predict(single, thresholds.fit(single, labels, rule.config, rule.freq)), selected.predicted
    )
    board["single_best"] = {
        "checkpoint": ck.name(best),
        "run": ck.keys[best][0],
        "mAP_in_sample": best_epoch.epoch_score(single, labels, "mAP"),
        "f1_thresholds_in_sample": single_row["in_sample"],
        "f1_thresholds_in_sample_ci": single_row["in_sample_ci"],
        "f1_selected_cv": single_row["cv"],
        "f1_selected_cv_ci": single_row["cv_ci"],
        "selected_per_fold": [ck.name(d.members[0]) for d in selected.decisions],
    }
    chosen = strategies[rule.config.strategy]
    board["ensemble"] = {
        "members": [ck.name(i) for i in final.members],
        "members_per_fold": [[ck.name(i) for i in d.members] for d in honest.decisions],
        "mAP_in_sample": float(np.nanmean(metrics.average_precision(labels, np.nan_to_num(val_avg)))),
        **{f"f1_at_0.5_{k}": v for k, v in at_half.items()},
        **{f"f1_thresholds_{k}": v for k, v in chosen.items() if not k.startswith("a_b")},
        **{f"f1_postprocess_{k}": v for k, v in with_groups.items()},
        "postprocess_keep": rule.keep,
        "postprocess_other_keep": other_keep,
        "strategies": strategies,
        "precision_in_sample": float(final_scores.precision.mean()),
        "recall_in_sample": float(final_scores.recall.mean()),
        "threshold_strategy": rule.config.strategy,
        "groups": names,
        "group_gain_cv": {" | ".join(n): g for n, g in zip(names, gains)},
        "groups_applied": [[CLASSES[c] for c in g] for g in final.groups],
        "groups_applied_per_fold": [len(d.groups) for d in honest.decisions],
        "derived_groups": derived_row,
    }
    if s.ensemble.greedy.enabled:
        greedy = crossval.nested_greedy(rule, val, s.ensemble.greedy.max_members)
        board["greedy_selection"] = {
            "f1_cv": greedy.f1,
            "f1_cv_ci": boot.interval(labels, greedy.predicted),
            "members_per_fold": [[ck.name(i) for i in d.members] for d in greedy.decisions],
        }
    board["folds"] = {"k": int(outer.max()) + 1, "grouped_by": "video_id", "source_videos": sources}
    board["runs"] = run_rows(ck, labels, s.best_by, boot)
    board["chance_mAP"] = chance_map(labels)
    board["replicas"] = replica_spread(board["runs"], specs)
    board["f1"] = honest.f1  # the headline: the submission rule, every choice made inside the folds
    board["f1_ci"] = boot.interval(labels, honest.predicted)
    board["f1_in_sample"] = final_scores.macro_f1  # the same rule fitted and scored on all of val
    board["f1_in_sample_ci"] = boot.interval(labels, final_predicted)
    board["intervals"] = {
        "level": s.intervals.level,
        "draws": s.intervals.draws,
        "over": f"{sources} source videos of val",
        "excludes": "refitting the rule on other data and training with other seeds (decisions held fixed)",
    }
    board["comparisons"] = comparisons(boot, labels, cv, last_epoch_decisions(ck), specs, rule.config.strategy)

    write_json(paths.BUNDLE, submission_bundle)
    # through the bundle, as predict does
    write_text(paths.ANSWER, format_answer(test_ids, test_predicted))
    # each video named as predict names it, given val's annotation file
    val_paths = [str(Path(s.data.root) / p) for p in val_index.loc[~val_index["flip"], "path"]]  # truth's rows
    unreadable = np.isnan(val_scores).all(axis=1)
    write_table(
        paths.VAL_PREDICTIONS,
        bundle.prediction_table(
            val_ids, val_paths, ["unreadable (prepare)" if u else "" for u in unreadable], val_scores, val_predicted
        ),
    )
    write_plots(
        labels,
        val_avg,
        final_scores,
        metrics.per_class(labels, (single >= 0.5).astype(int)),
        final.thresholds,
        rule.freq,
    )
    write_json(paths.METRICS / "leaderboard.json", board)
    write_text(paths.METRICS / "ablation.md", ablation_markdown(board, specs))
    e = board["ensemble"]
    log.info(
        "single best %s %.4f (chosen in folds: cv %.4f) | ensemble at 0.5 %.4f (cv %.4f) -> thresholds "
        "%.4f (cv %.4f) -> post-processing %.4f (cv %.4f)",
        ck.name(best),
        board["single_best"]["f1_thresholds_in_sample"],
        board["single_best"]["f1_selected_cv"],
        e["f1_at_0.5_in_sample"],
        e["f1_at_0.5_cv"],
        e["f1_thresholds_in_sample"],
        e["f1_thresholds_cv"],
        e["f1_postprocess_in_sample"],
        e["f1_postprocess_cv"],
    )
    log.info(
        "submission rule: thresholds + %d of %d groups; val F1 %.4f [%.4f, %.4f] cross-validated (in-sample %.4f); "
        "%d%% intervals over %d source videos",
        len(final.groups),
        len(names),
        board["f1"],
        *board["f1_ci"],
        board["f1_in_sample"],
        round(100 * s.intervals.level),
        sources,
    )
    if sources < FEW_SOURCES:
        log.warning(
            "val has %d source videos (< %d): every interval is wide and itself uncertain", sources, FEW_SOURCES
        )
    log.info("wrote %s (%d test videos)", paths.ANSWER, len(test_ids))
    return board


def ensemble_bundle(
    s: Settings,
    specs: dict,
    ck: Checkpoints,
    digests: dict,
    made: dict,
    decision: crossval.Decision,
    weights: list[float] | None,
    val_f1: dict,
    canaries: dict,
) -> dict:
    """A fitted rule as a bundle (tinyactions.decide.bundle): the members' checkpoints, weights, thresholds and
    applied groups, with how they score videos and, for SR members, super-resolve them."""
    sr = s.superres
    superres = bundle.superres_entry(
        paths.GENERATOR,
        {
            "size": sr.size,
            "input": sr.input,
            "window": sr.window,
            "overlap": sr.overlap,
            "precision": sr.precision,
            "storage": sr.storage,
            "spec": sr.generator.model_dump(),
        },
    )
    members = [ck.keys[i] for i in decision.members]
    return bundle.build(
        members,
        specs,
        digests,
        weights,
        decision.thresholds,
        decision.groups,
        s.dump.views,
        s.dump.precision,
        superres,
        val_f1,
        made,
        canaries,
        keep=decision.keep,
    )


def write_plots(labels, val_avg, per_class, single_per_class, thresholds, freq) -> None:
    """Per-class F1 (ensemble vs single best), thresholds, and F1-vs-threshold curves, for `dvc plots`."""
    write_table(
        paths.METRICS / "per_class_f1.csv",
        pd.DataFrame(
            {
                "class": list(CLASSES),
                "ensemble": per_class.f1,
                "single_best": single_per_class.f1,
                "val_positives": per_class.support,
            }
        ),
    )
    write_table(
        paths.METRICS / "thresholds.csv",
        pd.DataFrame(
            {"class": list(CLASSES), "threshold": thresholds, "train_frequency": freq, "val_positives": labels.sum(0)}
        ),
    )
    grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
    curves = [
        {
            "class": c,
            "threshold": t,
            "f1": float(metrics.per_class(labels[:, [k]], (val_avg[:, [k]] >= t).astype(int)).f1[0]),
        }
        for k, c in enumerate(CLASSES)
        if labels[:, k].sum() > 0
        for t in grid
    ]
    write_table(paths.METRICS / "threshold_curves.csv", pd.DataFrame(curves))
