"""The submission rule fitted on a set of val videos, and honest estimates: every choice inside the folds.

The rule (the paper's recipe) is: members (``run@epoch``, ``best``/``last`` resolved on val) averaged, per-class
thresholds fitted on val, exclusive groups post-processed (``postprocess.apply: auto`` keeps the groups
whose gain is positive). Each of these choices looks at val labels, so a number measured on the same val
is in-sample. The honest estimate refits the whole rule on k-1 folds of val (member epochs, thresholds,
group gating; group gating and greedy selection score their options by a cross-validation inside those
k-1 folds) and scores the held-out fold; predictions of all folds are pooled into one macro F1. Folds are
grouped by source video (:mod:`tinyactions.decide.folds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyactions.challenge import metrics
from tinyactions.decide import ensemble, postprocess, thresholds
from tinyactions.decide.checkpoint_scores import Checkpoints
from tinyactions.decide.folds import grouped_folds
from tinyactions.decide.settings import Keep, Thresholds
from tinyactions.score import best_epoch
from tinyactions.score.member import Member


@dataclass(frozen=True)
class Rule:
    """What params.yaml says the submission does."""

    members: list[Member]
    weights: list[float] | None
    config: Thresholds  # the thresholds section
    freq: np.ndarray  # train frequency per class (the frequency rule's input)
    groups: list[list[int]]  # candidate exclusive groups (class indexes)
    apply: bool | str  # postprocess.apply: True | False | "auto"
    keep: Keep  # postprocess.keep: the top score (the paper) | the largest margin
    best_by: str


@dataclass(frozen=True)
class Decision:
    """The rule fitted on some val videos."""

    members: list[int]  # checkpoint indexes
    thresholds: np.ndarray
    groups: list[list[int]]  # applied
    keep: Keep  # postprocess.keep
    params: dict[str, float] = field(default_factory=dict)  # the threshold rule's fitted parameters (thresholds.Fitted)


@dataclass(frozen=True)
class Val:
    """The checkpoints' scores with val's labels and source videos."""

    checkpoints: Checkpoints
    labels: np.ndarray  # (videos, classes) 0/1
    videos: np.ndarray  # source video of each val video (fold groups)
    epoch_scores: dict = field(default_factory=dict, compare=False)  # (rows, best_by) -> {(run, epoch): score}
    pool: tuple[int, ...] | None = None  # checkpoints a selection may pick (None: all; ablation runs are not)

    def folds(self, rows: np.ndarray, rule: Rule, salt: int = 0) -> np.ndarray:
        """Fold index of each video of ``rows`` (grouped by source video)."""
        return grouped_folds(self.labels[rows], self.videos[rows], rule.config.folds, rule.config.seed + salt)


def cv_predictions(
    scores: np.ndarray,
    labels: np.ndarray,
    rule: Rule,
    folds: np.ndarray,
    groups: list[list[int]],
    ranked: thresholds.Ranked | None = None,
) -> np.ndarray:
    """Held-out predictions of thresholds (and post-processing, which fits nothing) over ``folds``."""
    rows = thresholds.cross_validated_thresholds(scores, labels, rule.config, rule.freq, folds, ranked)
    return post_processed(thresholds.predict(scores, rows), scores, groups, rule.keep, rows)


def post_processed(predicted, scores, groups: list[list[int]], keep: str, thresholds: np.ndarray) -> np.ndarray:
    """``predicted`` with one class per group: the top score, or (keep: margin) the furthest above
    ``thresholds``, the ones that made the decisions."""
    if not groups:
        return predicted
    return postprocess.apply(predicted, scores, groups, thresholds if keep == "margin" else None)


def group_gains(
    scores: np.ndarray, labels: np.ndarray, rule: Rule, folds: np.ndarray, ranked: thresholds.Ranked | None = None
) -> list[float]:
    """Cross-validated gain in macro F1 of each candidate group on its own."""
    base = metrics.per_class(labels, cv_predictions(scores, labels, rule, folds, [], ranked)).macro_f1
    return [
        metrics.per_class(labels, cv_predictions(scores, labels, rule, folds, [g], ranked)).macro_f1 - base
        for g in rule.groups
    ]


def applied(rule: Rule, gains) -> list[list[int]]:
    """postprocess.apply: every group (true), none (false), or those with a positive gain (auto)."""
    return [g for g, gain in zip(rule.groups, gains) if rule.apply is True or (rule.apply == "auto" and gain > 0)]


def member_checkpoints(rule: Rule, val: Val, rows: np.ndarray) -> list[int]:
    """Checkpoint indexes of the members, ``best`` judged on ``rows`` only."""
    ck = val.checkpoints
    known = val.epoch_scores.setdefault((rows.tobytes(), rule.best_by), {})  # every variant of a rule shares them

    def score(run: str) -> dict[int, float]:
        for e in ck.epochs()[run]:
            if (run, e) not in known:
                known[(run, e)] = best_epoch.epoch_score(ck.val[ck.index(run, e)][rows], val.labels[rows], rule.best_by)
        return {e: known[(run, e)] for e in ck.epochs()[run]}

    epochs = best_epoch.resolve_members(rule.members, ck.epochs(), score)
    return [ck.index(m.run, e) for m, e in zip(rule.members, epochs)]


def decide(rule: Rule, val: Val, rows: np.ndarray) -> Decision:
    """The rule fitted on the val videos of ``rows``."""
    members = member_checkpoints(rule, val, rows)
    scores, labels = ensemble.average([val.checkpoints.val[i][rows] for i in members], rule.weights), val.labels[rows]
    ranked = thresholds.Ranked.of(scores, labels) if rule.config.strategy in thresholds.RANKED_STRATEGIES else None
    fitted = thresholds.fit_rule(ranked, labels.shape[1], rule.config, rule.freq)
    gains = (
        group_gains(scores, labels, rule, val.folds(rows, rule, salt=1), ranked)
        if rule.apply == "auto" and rule.groups
        else [0.0] * len(rule.groups)
    )
    return Decision(members, fitted.thresholds, applied(rule, gains), rule.keep, fitted.params)


def predict(decision: Decision, scores: np.ndarray) -> np.ndarray:
    """0/1 predictions of averaged member scores (unreadable videos: NaN, nothing predicted)."""
    out = thresholds.predict(np.nan_to_num(scores, nan=-1.0), decision.thresholds)
    return post_processed(out, scores, decision.groups, decision.keep, decision.thresholds)


def member_scores(decision: Decision, rule: Rule, arrays: np.ndarray, rows=slice(None)) -> np.ndarray:
    return ensemble.average([arrays[i][rows] for i in decision.members], rule.weights)


@dataclass(frozen=True)
class Honest:
    """A rule refitted on k-1 folds and applied to the held-out fold, pooled over the folds."""

    f1: float  # the estimate (mean F1 over the classes with positives) of the pooled held-out decisions
    predicted: np.ndarray  # (videos, classes) out-of-fold 0/1 decisions
    decisions: list[Decision]  # the rule fitted in each fold


def nested(rule: Rule, val: Val) -> Honest:
    """The rule refitted on k-1 folds and applied to the held-out fold, for every fold."""
    outer = val.folds(np.ones(len(val.labels), bool), rule)
    out = np.zeros_like(val.labels, dtype=np.int8)
    decisions = []
    for f in np.unique(outer):
        held = outer == f
        decision = decide(rule, val, ~held)
        out[held] = predict(decision, member_scores(decision, rule, val.checkpoints.val, held))
        decisions.append(decision)
    return Honest(metrics.per_class(val.labels, out).macro_f1_present, out, decisions)


def greedy(rule: Rule, val: Val, rows: np.ndarray, max_members: int) -> list[int]:
    """Forward selection (with replacement) over every checkpoint of ``val.pool``, maximising the macro F1
    of the averaged scores with thresholds, cross-validated inside ``rows``; stops when no addition helps."""
    scores, labels = val.checkpoints.val[:, rows].astype(np.float64), val.labels[rows]
    pool = range(len(scores)) if val.pool is None else val.pool
    folds = val.folds(rows, rule, salt=2)
    chosen: list[int] = []
    total, best = np.zeros(scores.shape[1:]), -1.0
    while len(chosen) < max_members:
        trial = []
        for candidate in pool:
            avg = (total + scores[candidate]) / (len(chosen) + 1)
            trial.append(metrics.per_class(labels, cv_predictions(avg, labels, rule, folds, [])).macro_f1)
        pick = int(np.argmax(trial))
        if trial[pick] <= best + 1e-9:
            break
        chosen.append(pool[pick])
        total += scores[pool[pick]]
        best = trial[pick]
    return chosen


def nested_greedy(rule: Rule, val: Val, max_members: int) -> Honest:
    """The greedy selection measured honestly: members and thresholds chosen on k-1 folds."""
    outer = val.folds(np.ones(len(val.labels), bool), rule)
    out = np.zeros_like(val.labels, dtype=np.int8)
    decisions = []
    for f in np.unique(outer):
        held = outer == f
        chosen = greedy(rule, val, ~held, max_members)
        scores = ensemble.average([val.checkpoints.val[i] for i in chosen])
        decision = Decision(
            chosen, thresholds.fit(scores[~held], val.labels[~held], rule.config, rule.freq), [], rule.keep
        )
        out[held] = predict(decision, scores[held])
        decisions.append(decision)
    return Honest(metrics.per_class(val.labels, out).macro_f1_present, out, decisions)
