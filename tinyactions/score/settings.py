"""The score phase's settings: ``dump`` (how every saved epoch scores val and test, and a teacher its clips)
and ``best_by`` (what a run's "best" epoch maximises on val, for teachers and ensemble members)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tinyactions.core.params import Section, View
from tinyactions.core.precision import PRECISIONS
from tinyactions.score.member import BEST_BY

BestBy = Literal[BEST_BY]


class Dump(Section):
    views: Annotated[int, Field(ge=1, le=32)]
    precision: Literal[PRECISIONS]  # score dumps and the teacher's scores


class ScoreExecution(View):
    """What scoring reads of ``execution``."""

    score_chunk: Annotated[int, Field(ge=1, le=1024)]  # videos decoded once and scored by every epoch together
