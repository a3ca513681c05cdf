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
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tinyactions.challenge import metrics
from tinyactions.challenge.annotations import CLASSES
from tinyactions.challenge.groups import seen_together, validate_groups
from tinyactions.challenge.submission import format_answer
from tinyactions.core.errors import SettingsError
from tinyactions.core.files import file_digest, remove_orphans, write_json, write_table, write_text
from tinyactions.core.paths import PROJECT, Workspace
from tinyactions.data.index import truth
from tinyactions.decide import bundle, comparisons, crossval, leaderboard, postprocess, thresholds
from tinyactions.decide.checkpoint_scores import Checkpoints
from tinyactions.decide.intervals import COVERED_FROM_SOURCES, Bootstrap
from tinyactions.decide.leaderboard import Leaderboard
from tinyactions.decide.report import ablation_markdown
from tinyactions.decide.settings import STRATEGIES, Evaluation
from tinyactions.score import best_epoch
from tinyactions.score.member import BEST_BY, Member

log = logging.getLogger(__name__)


def last_epoch_scores(ck: Checkpoints) -> dict[str, np.ndarray]:
    """Each run's val scores at its last epoch: an epoch not chosen on the val it is scored on, so runs
    compare without selection bias (unreadable videos: NaN)."""
    return {run: ck.val[ck.index(run, epochs[-1])].astype(np.float64) for run, epochs in ck.epochs().items()}


def run_rows(
    ck: Checkpoints, labels: np.ndarray, best_by: str, boot: Bootstrap, rule: crossval.Rule, folds: np.ndarray
) -> dict:
    """Per run: its best epoch (by ``best_by``, chosen on all of val: in-sample) with mAP and F1,
    precision and recall at 0.5 there; F1 at 0.5 per epoch; and at its last epoch (not chosen on val) mAP
    and the F1 of the rule's thresholds fitted inside the folds, each with its interval."""
    score = {
        by: {key: best_epoch.epoch_score(ck.val[i], labels, by) for i, key in enumerate(ck.keys)} for by in BEST_BY
    }
    rows = {}
    for run, scores in last_epoch_scores(ck).items():
        epochs = ck.epochs()[run]
        best = best_epoch.resolve_members(
            [Member(run, "best")], {run: epochs}, lambda r: {e: score[best_by][(r, e)] for e in epochs}
        )[0]
        at_half = metrics.per_class(labels, (ck.val[ck.index(run, best)] >= 0.5).astype(int))
        fitted = comparisons.fold_fitted(scores, labels, rule, folds)
        rows[run] = {
            "best_epoch": best,
            "mAP_in_sample": score["mAP"][(run, best)],
            "f1_at_0.5_in_sample": at_half.macro_f1_present,
            "precision_at_0.5_in_sample": float(at_half.precision[at_half.support > 0].mean()),
            "recall_at_0.5_in_sample": float(at_half.recall[at_half.support > 0].mean()),
            "f1_at_0.5_by_epoch": {str(e): score["f1"][(run, e)] for e in epochs},
            "last_epoch": epochs[-1],
            "mAP_last": boot.map_point(labels, np.nan_to_num(scores, nan=-1.0)),
            "mAP_last_ci": boot.map_interval(labels, np.nan_to_num(scores, nan=-1.0)),
            "f1_cv_last": boot.point(labels, fitted),
            "f1_cv_last_ci": boot.interval(labels, fitted),
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
# single best both with thresholds and without post-processing, as Table 3's rows. "frequency vs flat"
# isolates the paper's claim (frequent classes need higher thresholds than rare ones) from fitting a level.
RULE_CONTRASTS = (
    ("ensemble vs single best", "thresholds {strategy}", "single best"),
    ("frequency-ordered thresholds vs one flat threshold", "thresholds frequency", "thresholds flat"),
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
    """Runs of one recipe trained with other seeds (``runs.<name>.seed``): their mAP and fold-fitted F1 at
    the last epoch, mean and sample standard deviation, the spread a training seed alone makes."""
    recipes: dict[str, list[str]] = {}
    for name, spec in specs.items():
        recipe = {k: v for k, v in asdict(spec).items() if k not in ("name", "seed")}
        recipes.setdefault(json.dumps(recipe, sort_keys=True, default=str), []).append(name)
    out = []
    for names in recipes.values():
        if len(names) > 1:
            group = {"runs": names, "seeds": [specs[n].seed for n in names]}
            for key in ("mAP_last", "f1_cv_last"):
                values = [rows[n][key] for n in names]
                group[f"{key}_mean"], group[f"{key}_sd"] = float(np.mean(values)), float(np.std(values, ddof=1))
            out.append(group)
    return out


def run_comparisons(
    boot: Bootstrap,
    labels: np.ndarray,
    cv: dict[str, np.ndarray],
    last: dict[str, np.ndarray],
    specs: dict,
    rule: crossval.Rule,
    folds: np.ndarray,
) -> dict:
    """Paired differences with their intervals and smallest detectable differences (the same source videos
    resampled for both sides): the submission rule's steps on out-of-fold decisions (F1), and every pair of
    runs that differ in one component only, at their last epochs (mAP, and F1 with thresholds fitted in
    the folds for each run)."""
    out = {}
    for name, with_, without in RULE_CONTRASTS:
        a, b = with_.format(strategy=rule.config.strategy), without.format(strategy=rule.config.strategy)
        if a in cv and b in cv and a != b:
            out[name] = comparisons.decisions(boot, labels, cv[a], cv[b], "F1 cross-validated")
    for name, test, differs in RUN_CONTRASTS:
        for run_a, a in specs.items():
            for run_b, b in specs.items():
                alike = all(
                    getattr(a, f.name) == getattr(b, f.name) for f in fields(a) if f.name not in ("name", *differs)
                )
                if run_a != run_b and test(a, b) and alike:
                    for metric, found in comparisons.runs(boot, labels, last[run_a], last[run_b], rule, folds).items():
                        out[f"{name} ({metric}): {run_a} vs {run_b}"] = found
    return out


def group_names(setting, derived: list[list[str]]) -> list[list[str]]:
    """postprocess.groups: derived from train co-occurrence, none, or the listed groups."""
    if setting == "derive":
        return derived
    return [] if setting == "none" else [list(g) for g in setting]


@dataclass
class Inputs:
    """What the evaluate stage reads: val's truth, the test ids, train's class counts and co-occurrence, and
    the score table of every run of the settings (never a glob, so removed runs cannot leak in)."""

    val_ids: list[str]
    labels: np.ndarray  # (val videos, 26)
    videos: np.ndarray  # the source video of each val video: what folds and intervals group by
    val_paths: list[str]  # each val video as predict names it, given val's annotation file
    test_ids: list[str]
    train_videos: int
    train_counts: np.ndarray  # training videos per class
    cooccurrence: pd.DataFrame  # training videos per pair of classes
    tables: dict[str, pd.DataFrame]  # run -> its score table (every dumped epoch)
    generator_sha256: str  # of the generator file SR members' videos are made with


@dataclass
class Outputs:
    """Everything the evaluate stage writes."""

    bundle: dict  # submission/bundle.json
    answer: str  # submission/answer.txt
    val_predictions: pd.DataFrame  # submission/val_predictions.csv
    plots: dict[str, pd.DataFrame]  # metrics/<name>
    board: Leaderboard  # metrics/leaderboard.json
    ablation: str  # metrics/ablation.md
    summary: list[tuple[int, str]]  # what the log says: (logging level, line)


def load(s: Evaluation, ws: Workspace) -> Inputs:
    """Read the prepared index and every run's score table from ``ws``."""
    val_index = pd.read_parquet(ws.index("val"))
    val_ids, labels = truth(val_index)
    originals = val_index.loc[~val_index["flip"]]  # truth's rows
    stats = json.loads(ws.stats.read_text())
    tables = {}
    for name in s.run_names():
        path = ws.scores(name)
        if not path.is_file():
            raise SettingsError(
                f"{s.run_key(name)}: score table {path} is missing "
                f"({'dump_student' if name in s.students else 'dump'}@{name} first)"
            )
        tables[name] = pd.read_parquet(path)
    return Inputs(
        val_ids=val_ids,
        labels=labels,
        videos=originals["video_id"].to_numpy(),
        val_paths=[str(Path(s.data.root) / p) for p in originals["path"]],
        test_ids=pd.read_parquet(ws.index("test"))["id"].tolist(),
        train_videos=stats["videos"]["train"],
        train_counts=np.array([stats["class_counts"]["train"][c] for c in CLASSES], float),
        cooccurrence=pd.read_csv(ws.cooccurrence, index_col=0),
        tables=tables,
        generator_sha256=file_digest(ws.generator),
    )


def write(out: Outputs, ws: Workspace) -> None:
    board = leaderboard.checked(out.board)  # before any file: a board other than declared writes nothing
    for folder in (ws.bundle.parent, ws.metrics):  # what a killed run of this stage left half written
        remove_orphans(folder)
    write_json(ws.bundle, out.bundle)
    write_text(ws.answer, out.answer)
    write_table(ws.val_predictions, out.val_predictions)
    for name, table in out.plots.items():
        write_table(ws.metrics / name, table)
    write_json(ws.metrics / "leaderboard.json", board)
    write_text(ws.metrics / "ablation.md", out.ablation)


def evaluate(s: Evaluation, ws: Workspace) -> Leaderboard:
    """The evaluate stage's job in ``ws``: load, compute, write; returns the leaderboard."""
    out = compute(s, load(s, ws))
    write(out, ws)
    for level, line in out.summary:
        log.log(level, line)
    log.info("wrote %s (%d test videos)", ws.answer, len(out.answer.splitlines()))
    return out.board


def submission_rule(s: Evaluation, inputs: Inputs, names: list[list[str]]) -> crossval.Rule:
    """The settings' submission rule: members, weights, the threshold rule, groups and when they apply."""
    return crossval.Rule(
        members=s.ensemble.parsed(),
        weights=s.ensemble.weights,
        config=s.thresholds,
        freq=inputs.train_counts / max(inputs.train_videos, 1),
        groups=validate_groups(names),
        apply=s.postprocess.apply,
        keep=s.postprocess.keep,
        best_by=s.best_by,
    )


@dataclass
class Analysis:
    """Val, the bootstrap over its source videos, and the two ways every rule is scored: fitted on all of
    val (in-sample) and refitted inside the folds (cross-validated)."""

    val: crossval.Val
    labels: np.ndarray
    boot: Bootstrap

    @property
    def everything(self) -> np.ndarray:
        return np.ones(len(self.labels), bool)

    def f1(self, predicted: np.ndarray) -> float:
        """The estimate: the mean F1 over the classes val has positives of (``tinyactions.decide.intervals``)."""
        return metrics.per_class(self.labels, predicted).macro_f1_present

    def fitted(self, rule: crossval.Rule) -> tuple[crossval.Decision, np.ndarray]:
        """``rule`` fitted on all of val and its (in-sample) decisions there."""
        decision = crossval.decide(rule, self.val, self.everything)
        return decision, crossval.predict(decision, crossval.member_scores(decision, rule, self.val.checkpoints.val))

    def row(self, in_sample: np.ndarray | None, honest: np.ndarray | None) -> dict:
        """F1 of in-sample and cross-validated decisions, each with its interval over source videos."""
        out = {}
        for key, predicted in (("in_sample", in_sample), ("cv", honest)):
            if predicted is not None:
                out[key], out[f"{key}_ci"] = self.f1(predicted), self.boot.interval(self.labels, predicted)
        return out


@dataclass
class RuleSteps:
    """The submission rule's steps, each in-sample and cross-validated: the members at 0.5, + thresholds
    (every strategy), + every group, the other ``postprocess.keep``, derived groups, each group alone."""

    strategies: dict
    at_half: dict
    with_groups: dict
    other_keep: dict
    derived: dict | None
    gains: list[float]


def rule_steps(a: Analysis, rule: crossval.Rule, derived: list[list[str]], names: list, cv: dict) -> RuleSteps:
    """Score each step of ``rule``; every step's out-of-fold decisions go into ``cv`` by name."""
    thresholds_only = replace(rule, apply=False)
    strategies = {}
    for strategy in STRATEGIES:
        variant = replace(thresholds_only, config=rule.config.model_copy(update={"strategy": strategy}))
        decision, predicted = a.fitted(variant)
        nested = crossval.nested(variant, a.val)
        strategies[strategy] = a.row(predicted, nested.predicted)
        if decision.params:  # the rule's fitted parameters (frequency: a_b): on all of val, and in each fold
            named = "_".join(decision.params)
            strategies[strategy][f"{named}_in_sample"] = list(decision.params.values())
            strategies[strategy][f"{named}_per_fold"] = [list(d.params.values()) for d in nested.decisions]
        cv[f"thresholds {strategy}"] = nested.predicted
    half = replace(rule, config=rule.config.model_copy(update={"strategy": "fixed", "prior": 0.5}), apply=False)
    at_half = a.row(a.fitted(half)[1], cv.setdefault("at 0.5", crossval.nested(half, a.val).predicted))
    all_groups = replace(rule, apply=True)
    with_groups = a.row(
        a.fitted(all_groups)[1], cv.setdefault("all groups", crossval.nested(all_groups, a.val).predicted)
    )
    cv[f"all groups, keep {rule.keep}"] = cv["all groups"]
    other = replace(all_groups, keep="score" if rule.keep == "margin" else "margin")  # the other postprocess.keep
    other_cv = cv.setdefault(f"all groups, keep {other.keep}", crossval.nested(other, a.val).predicted)
    other_keep = {"keep": other.keep, **a.row(a.fitted(other)[1], other_cv)}
    base = strategies[rule.config.strategy]["cv"]
    derived_row = None
    if derived and derived != names:  # the ablation: groups derived from train co-occurrence instead
        derived_rule = replace(rule, groups=validate_groups(derived), apply=True)
        derived_row = {
            "groups": derived,
            **a.row(a.fitted(derived_rule)[1], crossval.nested(derived_rule, a.val).predicted),
        }
    gains = [crossval.nested(replace(rule, groups=[g], apply=True), a.val).f1 - base for g in rule.groups]
    return RuleSteps(strategies, at_half, with_groups, other_keep, derived_row, gains)


def single_best(a: Analysis, rule: crossval.Rule, cv: dict) -> tuple[int, np.ndarray, dict]:
    """The single best checkpoint by the selection's own criterion, on all of val and inside the folds:
    (its index, its val scores, its leaderboard entry)."""
    ck = a.val.checkpoints
    best = crossval.greedy(rule, a.val, a.everything, max_members=1)[0]
    single = ck.val[best].astype(np.float64)
    selected = crossval.nested_greedy(rule, a.val, max_members=1)
    cv["single best"] = selected.predicted
    single_row = a.row(
        thresholds.predict(single, thresholds.fit(single, a.labels, rule.config, rule.freq)), selected.predicted
    )
    return (
        best,
        single,
        {
            "checkpoint": ck.name(best),
            "run": ck.keys[best][0],
            "mAP_in_sample": best_epoch.epoch_score(single, a.labels, "mAP"),
            "f1_thresholds_in_sample": single_row["in_sample"],
            "f1_thresholds_in_sample_ci": single_row["in_sample_ci"],
            "f1_selected_cv": single_row["cv"],
            "f1_selected_cv_ci": single_row["cv_ci"],
            "selected_per_fold": [ck.name(d.members[0]) for d in selected.decisions],
        },
    )


def low_res_variant(
    a: Analysis, rule: crossval.Rule, specs: dict, cv: dict
) -> tuple[crossval.Rule, crossval.Decision, dict] | None:
    """The rule on its low-res members alone, fitted and scored (None when every member, or none, is
    low-res, or their weights are all zero); its out-of-fold decisions go into ``cv``."""
    low_res = [i for i, m in enumerate(rule.members) if specs[m.run].input == "lr"]
    if not low_res or len(low_res) == len(rule.members) or (rule.weights and not sum(rule.weights[i] for i in low_res)):
        return None
    lr_rule = replace(
        rule,
        members=[rule.members[i] for i in low_res],
        weights=[rule.weights[i] for i in low_res] if rule.weights else None,
    )
    lr_final, lr_predicted = a.fitted(lr_rule)
    cv["low-res members"] = crossval.nested(lr_rule, a.val).predicted
    return lr_rule, lr_final, a.row(lr_predicted, cv["low-res members"])


def ensemble_row(
    a: Analysis,
    rule: crossval.Rule,
    final: crossval.Decision,
    honest: crossval.Honest,
    val_avg: np.ndarray,
    final_scores,
    steps: RuleSteps,
    names: list[list[str]],
) -> dict:
    """The leaderboard's ensemble entry: members, each step of the rule, the threshold rules, the groups."""
    ck, labels = a.val.checkpoints, a.labels
    chosen = steps.strategies[rule.config.strategy]
    return {
        "members": [ck.name(i) for i in final.members],
        "members_per_fold": [[ck.name(i) for i in d.members] for d in honest.decisions],
        "mAP_in_sample": float(np.nanmean(metrics.average_precision(labels, np.nan_to_num(val_avg)))),
        **{f"f1_at_0.5_{k}": v for k, v in steps.at_half.items()},
        **{f"f1_thresholds_{k}": chosen[k] for k in ("in_sample", "in_sample_ci", "cv", "cv_ci")},
        **{f"f1_postprocess_{k}": v for k, v in steps.with_groups.items()},
        "postprocess_keep": rule.keep,
        "postprocess_other_keep": steps.other_keep,
        "strategies": steps.strategies,
        "precision_in_sample": float(final_scores.precision[final_scores.support > 0].mean()),
        "recall_in_sample": float(final_scores.recall[final_scores.support > 0].mean()),
        "threshold_strategy": rule.config.strategy,
        "groups": names,
        "group_gain_cv": {" | ".join(n): g for n, g in zip(names, steps.gains)},
        "groups_applied": [[CLASSES[c] for c in g] for g in final.groups],
        "groups_applied_per_fold": [len(d.groups) for d in honest.decisions],
        "derived_groups": steps.derived,
    }


def compute(s: Evaluation, inputs: Inputs) -> Outputs:
    """Every number, decision and file content of the stage, from what :func:`load` read."""
    labels, videos = inputs.labels, inputs.videos
    ck = Checkpoints.from_tables(inputs.tables, inputs.val_ids, inputs.test_ids)
    digests = {(name, e): d for name, t in inputs.tables.items() for e, d in bundle.checkpoint_digests(t).items()}
    canaries = {(name, e): c for name, t in inputs.tables.items() for e, c in bundle.canary_scores(t).items()}
    made = bundle.made_with(list(inputs.tables.values()))  # how the dumps scored
    board: dict = {}  # checked against the declared Leaderboard where it is written
    pool = tuple(i for i, (run, _) in enumerate(ck.keys) if run not in s.ensemble.ablation_runs)
    val = crossval.Val(ck, labels, videos, pool=pool)
    derived = postprocess.derive_groups(inputs.cooccurrence, inputs.train_videos, s.postprocess.min_expected)
    names = group_names(s.postprocess.groups, derived)
    rule = submission_rule(s, inputs, names)
    sources = len(set(videos))
    if sources < rule.config.folds:
        raise SettingsError(
            f"thresholds.folds: {rule.config.folds} folds, but val has {sources} source videos (folds are grouped by "
            "source video): set thresholds.folds to at most that"
        )
    outer = val.folds(np.ones(len(labels), bool), rule)
    boot = Bootstrap.over(  # resamples source videos
        videos, s.intervals.draws, s.intervals.seed, s.intervals.level, s.intervals.method
    )
    a = Analysis(val, labels, boot)

    # the submission rule, fitted on all of val (in-sample), and refitted inside the folds (honest)
    final, final_predicted = a.fitted(rule)
    honest = crossval.nested(rule, val)
    cv = {"rule": honest.predicted}  # out-of-fold decisions, for the paired comparisons
    steps = rule_steps(a, rule, derived, names, cv)
    val_avg = crossval.member_scores(final, rule, ck.val)
    final_scores = metrics.per_class(labels, final_predicted)
    specs = {n: s.run_spec(n) for n in s.run_names()}
    val_f1 = {"cv": honest.f1, "in_sample": final_scores.macro_f1_present}
    generator = inputs.generator_sha256
    submission_bundle = ensemble_bundle(s, specs, ck, digests, made, final, rule.weights, val_f1, canaries, generator)
    # the same rule on the low-res members alone (what `predict --lr-only` applies): what SR adds on val
    low = low_res_variant(a, rule, specs, cv)
    if low is not None:
        lr_rule, lr_final, lr_row = low
        lr_f1 = {"cv": lr_row["cv"], "in_sample": lr_row["in_sample"]}
        submission_bundle = bundle.with_lr_only(
            submission_bundle,
            ensemble_bundle(s, specs, ck, digests, made, lr_final, lr_rule.weights, lr_f1, canaries, generator),
        )
        board["lr_only"] = {
            "members": [ck.name(i) for i in lr_final.members],
            **{f"f1_{k}": lr_row[k] for k in ("cv", "cv_ci", "in_sample", "in_sample_ci")},
        }
    written = bundle.parse(submission_bundle, str(PROJECT.bundle))  # read back through its types, as predict reads it
    _, test_predicted = bundle.decide(written, [ck.test[i] for i in final.members])
    val_scores, val_predicted = bundle.decide(written, [ck.val[i] for i in final.members])
    best, single, board["single_best"] = single_best(a, rule, cv)
    board["ensemble"] = ensemble_row(a, rule, final, honest, val_avg, final_scores, steps, names)
    if s.ensemble.greedy.enabled:
        greedy = crossval.nested_greedy(rule, val, s.ensemble.greedy.max_members)
        board["greedy_selection"] = {
            "f1_cv": greedy.f1,
            "f1_cv_ci": boot.interval(labels, greedy.predicted),
            "members_per_fold": [[ck.name(i) for i in d.members] for d in greedy.decisions],
        }
    board["folds"] = {"k": int(outer.max()) + 1, "grouped_by": "video_id", "source_videos": sources}
    board["runs"] = run_rows(ck, labels, s.best_by, boot, rule, outer)
    board["chance_mAP"] = chance_map(labels)
    board["replicas"] = replica_spread(board["runs"], specs)
    # the headline: the submission rule, every choice made inside the folds; the estimate is the mean over
    # the classes val has positives of, the mean over all 26 (absent classes 0) its pessimistic bound
    board["f1"] = honest.f1
    board["f1_ci"] = boot.interval(labels, honest.predicted)
    board["f1_in_sample"] = final_scores.macro_f1_present  # the same rule fitted and scored on all of val
    board["f1_in_sample_ci"] = boot.interval(labels, final_predicted)
    board["f1_all_classes"] = metrics.per_class(labels, honest.predicted).macro_f1
    board["f1_all_classes_in_sample"] = final_scores.macro_f1
    board["classes_with_positives"] = int((labels.sum(axis=0) > 0).sum())
    board["intervals"] = interval_record(s.intervals, sources)
    board["comparisons"] = run_comparisons(boot, labels, cv, last_epoch_scores(ck), specs, rule, outer)
    board["comparisons_by_chance"] = comparisons.by_chance(len(board["comparisons"]), s.intervals.level)
    unreadable = np.isnan(val_scores).all(axis=1)
    return Outputs(
        bundle=submission_bundle,
        answer=format_answer(inputs.test_ids, test_predicted),  # through the bundle, as predict does
        val_predictions=bundle.prediction_table(
            inputs.val_ids,
            inputs.val_paths,
            ["unreadable (prepare)" if u else "" for u in unreadable],
            val_scores,
            val_predicted,
        ),
        plots=plot_tables(labels, val_avg, honest.predicted, boot, final.thresholds, rule.freq),
        board=board,
        ablation=ablation_markdown(board, specs),
        summary=summary_lines(board, ck.name(best), len(final.groups), len(names), s.intervals.level, sources)
        + [
            (
                logging.WARNING,
                f"postprocess.groups: {pair} share {count} train videos, though a group calls them exclusive",
            )
            for pair, count in seen_together(inputs.cooccurrence, names).items()
        ],
    )


def interval_record(intervals, sources: int) -> dict:
    """What the intervals are and whether their coverage is measured at this size."""
    measured = sources >= COVERED_FROM_SOURCES
    return {
        "level": intervals.level,
        "draws": intervals.draws,
        "method": intervals.method,
        "over": f"{sources} source videos of val",
        "excludes": "refitting the rule on other data and training with other seeds (decisions held fixed)",
        "coverage": f"measured for F1 and paired F1 at {COVERED_FROM_SOURCES} source videos of 16 clips; mAP's not "
        "measured"
        if measured
        else f"approximate: below {COVERED_FROM_SOURCES} source videos the measured coverage falls short of the "
        "level (mAP's not measured)",
    }


def summary_lines(
    board: Leaderboard, best: str, applied: int, groups: int, level: float, sources: int
) -> list[tuple[int, str]]:
    """The log's account of the leaderboard: (logging level, line)."""
    e, single = board["ensemble"], board["single_best"]
    lines = [
        (
            logging.INFO,
            f"single best {best} {single['f1_thresholds_in_sample']:.4f} (chosen in folds: cv "
            f"{single['f1_selected_cv']:.4f}) | ensemble at 0.5 {e['f1_at_0.5_in_sample']:.4f} (cv "
            f"{e['f1_at_0.5_cv']:.4f}) -> thresholds {e['f1_thresholds_in_sample']:.4f} (cv "
            f"{e['f1_thresholds_cv']:.4f}) -> post-processing {e['f1_postprocess_in_sample']:.4f} (cv "
            f"{e['f1_postprocess_cv']:.4f})",
        ),
        (
            logging.INFO,
            f"submission rule: thresholds + {applied} of {groups} groups; val F1 {board['f1']:.4f} "
            f"[{board['f1_ci']['lo']:.4f}, {board['f1_ci']['hi']:.4f}] cross-validated over the "
            f"{board['classes_with_positives']} classes val has positives of ({board['f1_all_classes']:.4f} over "
            f"all 26; in-sample {board['f1_in_sample']:.4f}); {round(100 * level)}% intervals over {sources} "
            "source videos",
        ),
    ]
    if sources < COVERED_FROM_SOURCES:
        lines.append(
            (
                logging.WARNING,
                f"val has {sources} source videos (< {COVERED_FROM_SOURCES}): every interval is approximate (its "
                "measured coverage falls short of its level) and wide",
            )
        )
    return lines


def ensemble_bundle(
    s: Evaluation,
    specs: dict,
    ck: Checkpoints,
    digests: dict,
    made: dict,
    decision: crossval.Decision,
    weights: list[float] | None,
    val_f1: dict,
    canaries: dict,
    generator_sha256: str,
) -> dict:
    """A fitted rule as a bundle (tinyactions.decide.bundle): the members' checkpoints, weights, thresholds and
    applied groups, with how they score videos and, for SR members, super-resolve them."""
    superres = bundle.superres_entry(PROJECT.generator, generator_sha256, s.superres.inference())
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


def plot_tables(labels, val_avg, honest, boot: Bootstrap, thresholds, freq) -> dict[str, pd.DataFrame]:
    """Per-class F1 of the submission rule's cross-validated decisions with its interval, thresholds, and
    F1-vs-threshold curves, for `dvc plots`."""
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
    per_class = metrics.per_class(labels, honest)
    present = per_class.support > 0
    bounds = boot.per_class(labels, honest)
    return {
        "per_class_f1.csv": pd.DataFrame(
            {
                "class": [c for c, p in zip(CLASSES, present) if p],
                "f1_cv": per_class.f1[present],
                "lo": [b["lo"] for b, p in zip(bounds, present) if p],
                "hi": [b["hi"] for b, p in zip(bounds, present) if p],
                "val_positives": per_class.support[present],
            }
        ),
        "thresholds.csv": pd.DataFrame(
            {"class": list(CLASSES), "threshold": thresholds, "train_frequency": freq, "val_positives": labels.sum(0)}
        ),
        "threshold_curves.csv": pd.DataFrame(curves),
    }
