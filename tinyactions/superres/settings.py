"""The ``superres`` section of params.yaml as the stages that make and read super-resolved video read it: how
videos are super-resolved (what a bundle records: ``inference()``). Which generator, and how the demo's is
fitted, is the superres_fit stage's part of the section (``tinyactions.superres.fit_settings``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tinyactions.core.params import Count, Positive, Section, View, fail
from tinyactions.core.precision import PRECISIONS
from tinyactions.data.video import CODECS
from tinyactions.superres.geometry import INPUTS, SCALE, plan_windows


class Generator(Section):
    mid_channels: Positive
    propagation_blocks: Positive
    cleaning_blocks: Positive


class UpscaleExecution(View):
    """What super-resolving videos reads of ``execution``: how, never what."""

    superres_batch: Positive  # windows per forward pass of the generator
    superres_workers: Positive  # CPU processes (GPUs: one worker each, whatever this says)


class Inference(View):
    """How super-resolved videos are made: the keys of ``superres`` the superres stage and a bundle read
    (the generator's file is the superres_fit stage's output; how it is made, ``superres.weights`` and
    ``superres.fit``, is that stage's: ``tinyactions.superres.fit_settings``)."""

    size: Annotated[int, Field(ge=SCALE, multiple_of=SCALE)]  # the generator upscales x4
    input: Literal[INPUTS]  # what the generator is fed: each clip at its own size, or size/4 squared
    window: Annotated[int, Field(ge=3)]
    overlap: Count
    precision: Literal[PRECISIONS]
    storage: Literal[tuple(CODECS)]  # how super-resolved video is stored: lossy MPEG-4 or lossless
    generator: Generator  # recorded as "spec" (its size keys)

    def check(self, key: str) -> None:
        try:
            plan_windows(self.window + 1, self.window, self.overlap)
        except ValueError as e:
            fail(f"{key}.window", str(e))

    def inference(self) -> dict:
        """How super-resolved videos are made, this model's keys in its order (the generator's as ``spec``): what
        a bundle records and ``UpscaleJob.of`` builds from."""
        made = self.model_dump(include=set(Inference.model_fields) - {"generator"})
        return {**made, "spec": self.generator.model_dump()}
