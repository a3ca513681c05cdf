"""The superres_fit stage's part of the ``superres`` section: which generator (``weights``: fitted on the demo,
or an official checkpoint) and how the demo's is fitted (``fit``); with the keys that say how videos are made
(``tinyactions.superres.settings.Inference``), the whole section. Kept apart from those keys so that a change
here never reruns the superres stage directly (only through the generator file it reads)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from tinyactions.core.params import Count, Rate, Section
from tinyactions.superres.settings import Inference


class Fit(Section):
    clips: Annotated[int, Field(ge=1, le=100_000)]
    iterations: Annotated[int, Field(ge=0, le=10_000_000)]
    clip_len: Annotated[int, Field(ge=2, le=1024)]
    batch: Annotated[int, Field(ge=1, le=1024)]
    lr: Rate
    eval_clips: Annotated[int, Field(ge=1, le=100_000)]
    seed: Count
    precision: Literal["fp32", "bf16", "auto"]  # no fp16: the fit's loop does no loss scaling


class Superres(Inference):
    """The whole ``superres`` section: how videos are made, and which generator makes them."""

    model_config = ConfigDict(extra="forbid")

    weights: str  # fit | the path of an official checkpoint
    fit: Fit
