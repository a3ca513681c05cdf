"""The decide phase's sections of params.yaml: ``thresholds`` (the per-class threshold rule: the names of
the rules live here, their fits in ``tinyactions.decide.thresholds``), ``ensemble``, ``postprocess`` and
``intervals``; and ``Evaluation``, every section the evaluate stage reads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tinyactions.challenge.groups import validate_groups
from tinyactions.core.params import Count, Positive, Rate, Section, Share, fail
from tinyactions.data.settings import Dataset
from tinyactions.score.member import Member
from tinyactions.score.settings import BestBy, Dump
from tinyactions.superres.settings import Inference
from tinyactions.train.settings import RunReads

# the threshold rules (thresholds.strategy); flat: one threshold for every class, fitted (the baseline that
# isolates the paper's claim that frequent classes need higher thresholds than rare ones)
STRATEGIES = ("fixed", "flat", "f1", "frequency", "frequency_set")
SHRINK_TARGETS = ("pooled", "prior")  # what the f1 rule shrinks rare classes towards
INTERVAL_METHODS = ("percentile", "basic", "bca")  # how a bootstrap interval is read off its draws (intervals.method)
Keep = Literal["score", "margin"]  # which predicted class of a group post-processing keeps (postprocess.keep)


class Thresholds(Section):
    strategy: Literal[STRATEGIES]
    prior: Share
    shrink_to: Literal[SHRINK_TARGETS]
    min_positives: Count
    low: Share
    high: Share
    folds: Annotated[int, Field(ge=2)]
    seed: Count

    def check(self, key: str) -> None:
        if self.low > self.high:
            fail(f"{key}.low", f"{self.low} is above {key}.high {self.high}")


class Intervals(Section):
    draws: Annotated[int, Field(ge=100)]
    level: Annotated[float, Field(gt=0, lt=1)]
    seed: Count
    method: Literal[INTERVAL_METHODS]


class Greedy(Section):
    enabled: bool
    max_members: Positive


class Ensemble(Section):
    members: Annotated[list[str], Field(min_length=1)]
    weights: list[Rate] | None
    greedy: Greedy
    ablation_runs: list[str]  # trained and reported only (Table 1's rows): never a member or a candidate

    def parsed(self) -> list[Member]:
        return [Member.parse(m) for m in self.members]

    def check(self, key: str) -> None:
        """Members are distinct checkpoints ``run@epoch`` of no ablation run, one weight each."""
        numbered = [m for m in self.members if not m.endswith(("@best", "@last"))]
        if len(set(numbered)) < len(numbered):  # best and last may repeat: the next best, the one before last
            twice = sorted({m for m in numbered if numbered.count(m) > 1})
            fail(f"{key}.members", f"{', '.join(twice)} listed twice: members are distinct checkpoints")
        for text in self.members:
            try:
                Member.parse(text)
            except ValueError as e:
                fail(f"{key}.members", str(e))
        if self.weights is not None and len(self.weights) != len(self.members):
            fail(f"{key}.weights", f"{len(self.weights)} weights for {len(self.members)} members")
        if self.weights is not None and not sum(self.weights) > 0:
            fail(f"{key}.weights", "all zero: at least one member needs a positive weight")


class Postprocess(Section):
    groups: Literal["derive", "none"] | list[list[str]]
    min_expected: Rate
    apply: bool | Literal["auto"]
    keep: Keep

    def check(self, key: str) -> None:
        if isinstance(self.groups, list):
            try:
                validate_groups(self.groups)
            except ValueError as e:
                fail(f"{key}.groups", str(e))


class Evaluation(RunReads):
    """Every section the evaluate stage reads: the runs' recipes (the report and the bundle), how members
    were scored and their SR videos made (the bundle), and the submission rule with its estimates."""

    data: Dataset  # val_predictions.csv names videos as predict does (data.root)
    best_by: BestBy
    dump: Dump
    superres: Inference  # how SR members' videos are made
    thresholds: Thresholds
    ensemble: Ensemble
    postprocess: Postprocess
    intervals: Intervals
