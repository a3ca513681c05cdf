"""An ensemble member ``run@epoch`` and what ``best`` may maximise: the terms the settings, the ensemble and
a student's teacher name checkpoints with (the rule that resolves them: ``tinyactions.score.best_epoch``).
Kept apart from that rule so that the settings schema, which every stage reads, does not depend on it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinyactions.core.paths import RUN_NAME

BEST_BY = ("mAP", "f1")  # what a run's "best" epoch maximises on val
MEMBER = re.compile(rf"(?P<run>{RUN_NAME.pattern})@(?P<epoch>best|last|[0-9]+)")


@dataclass(frozen=True)
class Member:
    """An ensemble member ``run@epoch``: epoch an integer, ``best`` or ``last``."""

    run: str
    epoch: str  # as written

    @classmethod
    def parse(cls, text: str) -> "Member":
        m = MEMBER.fullmatch(str(text))
        if not m:
            raise ValueError(f"ensemble member {text!r} is not run@epoch (epoch: a number, best or last)")
        return cls(m["run"], m["epoch"])

    def __str__(self) -> str:
        return f"{self.run}@{self.epoch}"
