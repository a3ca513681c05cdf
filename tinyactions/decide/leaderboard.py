"""``metrics/leaderboard.json``, declared: every key the evaluate stage writes, with its type, in one place.

The evaluate stage checks its board against this schema before writing it (a key it does not declare,
or one missing, is an error there, not a silent change of the file `dvc metrics diff` and CI read), and
the report reads the same keys. ``*_in_sample`` numbers are chosen or fitted on the val they are scored on;
``*_cv`` ones make every choice inside the folds (``tinyactions.decide.crossval``); ``*_last`` ones are a
run's last epoch (not chosen on val); ``*_ci`` is the bootstrap interval of the number before it, with named
bounds ``{"lo", "hi"}`` that ``dvc metrics diff`` shows (``tinyactions.decide.intervals``). Every F1 is the
estimate, the mean over the classes val has positives of; ``f1_all_classes`` is the 26-class mean with
absent classes at 0, a pessimistic bound.
"""

from __future__ import annotations

from typing import NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

_STRICT = ConfigDict(extra="forbid", strict=True)  # a key it does not declare, or of another type, is an error


class Interval(TypedDict):
    """The bounds at ``intervals.level``."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    lo: float
    hi: float


class Scored(TypedDict):
    """A rule's decisions on val: fitted on all of it, and refitted inside the folds."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    in_sample: float
    in_sample_ci: Interval
    cv: float
    cv_ci: Interval


class Strategy(Scored):
    """One threshold rule (the ensemble at thresholds, without post-processing); a rule that fits
    parameters reports them, on all of val and in each fold: the frequency rule's (a, b), the flat rule's t."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    a_b_in_sample: NotRequired[list[float]]
    a_b_per_fold: NotRequired[list[list[float]]]
    t_in_sample: NotRequired[list[float]]
    t_per_fold: NotRequired[list[list[float]]]


class OtherKeep(Scored):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    keep: str  # the postprocess.keep the submission does not use


class DerivedGroups(Scored):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    groups: list[list[str]]  # derived from train co-occurrence


EnsembleRow = TypedDict(
    "EnsembleRow",
    {
        "members": list[str],
        "members_per_fold": list[list[str]],
        "mAP_in_sample": float,
        "f1_at_0.5_in_sample": float,
        "f1_at_0.5_in_sample_ci": Interval,
        "f1_at_0.5_cv": float,
        "f1_at_0.5_cv_ci": Interval,
        "f1_thresholds_in_sample": float,
        "f1_thresholds_in_sample_ci": Interval,
        "f1_thresholds_cv": float,
        "f1_thresholds_cv_ci": Interval,
        "f1_postprocess_in_sample": float,
        "f1_postprocess_in_sample_ci": Interval,
        "f1_postprocess_cv": float,
        "f1_postprocess_cv_ci": Interval,
        "postprocess_keep": str,
        "postprocess_other_keep": OtherKeep,
        "strategies": dict[str, Strategy],
        "precision_in_sample": float,
        "recall_in_sample": float,
        "threshold_strategy": str,
        "groups": list[list[str]],
        "group_gain_cv": dict[str, float],
        "groups_applied": list[list[str]],
        "groups_applied_per_fold": list[int],
        "derived_groups": DerivedGroups | None,
    },
)
EnsembleRow.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]


class LowRes(TypedDict):
    """The rule on its low-res members alone (what ``predict --lr-only`` applies)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    members: list[str]
    f1_cv: float
    f1_cv_ci: Interval
    f1_in_sample: float
    f1_in_sample_ci: Interval


class SingleBest(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    checkpoint: str
    run: str
    mAP_in_sample: float
    f1_thresholds_in_sample: float
    f1_thresholds_in_sample_ci: Interval
    f1_selected_cv: float
    f1_selected_cv_ci: Interval
    selected_per_fold: list[str]


class GreedyRow(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    f1_cv: float
    f1_cv_ci: Interval
    members_per_fold: list[list[str]]


class Folds(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    k: int
    grouped_by: str
    source_videos: int


RunRow = TypedDict(
    "RunRow",
    {
        "best_epoch": int,  # by best_by, chosen on val
        "mAP_in_sample": float,  # at the best epoch
        "f1_at_0.5_in_sample": float,
        "precision_at_0.5_in_sample": float,
        "recall_at_0.5_in_sample": float,
        "f1_at_0.5_by_epoch": dict[str, float],
        "last_epoch": int,
        "mAP_last": float,
        "mAP_last_ci": Interval,
        "f1_cv_last": float,  # thresholds (the submission rule's rule) fitted inside the folds
        "f1_cv_last_ci": Interval,
    },
)
RunRow.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]


class Replicas(TypedDict):
    """Runs of one recipe with other training seeds."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    runs: list[str]
    seeds: list[int]
    mAP_last_mean: float
    mAP_last_sd: float
    f1_cv_last_mean: float
    f1_cv_last_sd: float


class IntervalsRow(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    level: float
    draws: int
    method: str
    over: str
    excludes: str
    coverage: str  # measured at this size, or approximate


class Difference(TypedDict):
    """A paired difference (the same source videos resampled for both) with the smallest true difference
    this val detects with 80% power (``tinyactions.decide.comparisons``)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    metric: str
    difference: float
    ci: Interval
    smallest_detectable: float
    reading: str  # separated, or not detectable at this size


class Leaderboard(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    lr_only: NotRequired[LowRes]  # only when members read both kinds of video
    single_best: SingleBest
    ensemble: EnsembleRow
    greedy_selection: NotRequired[GreedyRow]  # only with ensemble.greedy.enabled
    folds: Folds
    runs: dict[str, RunRow]
    chance_mAP: float
    replicas: list[Replicas]
    f1: float  # the headline: the submission rule, every choice inside the folds
    f1_ci: Interval
    f1_in_sample: float
    f1_in_sample_ci: Interval
    f1_all_classes: float  # the 26-class mean, absent classes 0: a pessimistic bound
    f1_all_classes_in_sample: float
    classes_with_positives: int  # in val: the classes the estimate averages
    intervals: IntervalsRow
    comparisons: dict[str, Difference]
    comparisons_by_chance: float  # how many would exclude 0 at the level without any effect


_SCHEMA = TypeAdapter(Leaderboard)


def checked(board: dict) -> Leaderboard:
    """``board`` itself, once it holds exactly the declared keys with their types; else a ValueError of one
    line naming the key."""
    try:
        _SCHEMA.validate_python(board)
    except ValidationError as e:
        first = e.errors()[0]
        raise ValueError(f"leaderboard: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    return board  # type: ignore[return-value]
