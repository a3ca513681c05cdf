"""The ``superres`` section of params.yaml as the stages that make and read super-resolved video read it: how
videos are super-resolved (what a bundle records: ``inference()``). Which generator, and how the demo's is
fitted, is the superres_fit stage's part of the section (``tinyactions.superres.fit_settings``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tinyactions.core import budget
from tinyactions.core.params import Section, View, fail
from tinyactions.core.precision import PRECISIONS
from tinyactions.data.video import CODECS
from tinyactions.superres.geometry import INPUTS, SCALE, plan_windows

# the largest generator a setting or a bundle may ask for (the official RealBasicVSR: 64 channels, 20 + 20 blocks)
CHANNELS_MAX, BLOCKS_MAX = 256, 64
SIZE_MAX = 1024  # px, the super-resolved size
WINDOW_MAX = 1024  # frames per forward pass


class Generator(Section):
    mid_channels: Annotated[int, Field(ge=1, le=CHANNELS_MAX)]
    propagation_blocks: Annotated[int, Field(ge=1, le=BLOCKS_MAX)]
    cleaning_blocks: Annotated[int, Field(ge=1, le=BLOCKS_MAX)]


class UpscaleExecution(View):
    """What super-resolving videos reads of ``execution``: how, never what."""

    superres_batch: Annotated[int, Field(ge=1, le=256)]  # windows per forward pass of the generator
    superres_workers: Annotated[int, Field(ge=1, le=256)]  # CPU processes (GPUs: one worker each, whatever this says)


class Inference(View):
    """How super-resolved videos are made: the keys of ``superres`` the superres stage and a bundle read
    (the generator's file is the superres_fit stage's output; how it is made, ``superres.weights`` and
    ``superres.fit``, is that stage's: ``tinyactions.superres.fit_settings``)."""

    size: Annotated[int, Field(ge=SCALE, le=SIZE_MAX, multiple_of=SCALE)]  # the generator upscales x4
    input: Literal[INPUTS]  # what the generator is fed: each clip at its own size, or size/4 squared
    window: Annotated[int, Field(ge=3, le=WINDOW_MAX)]
    overlap: Annotated[int, Field(ge=0, le=WINDOW_MAX // 2)]
    precision: Literal[PRECISIONS]
    storage: Literal[tuple(CODECS)]  # how super-resolved video is stored: lossy MPEG-4 or lossless
    generator: Generator  # recorded as "spec" (its size keys)

    def check(self, key: str) -> None:
        try:
            plan_windows(self.window + 1, self.window, self.overlap)
        except ValueError as e:
            fail(f"{key}.window", str(e))
        g = self.generator
        problem = budget.generator_problem(
            self.size, self.window, g.mid_channels, g.propagation_blocks, g.cleaning_blocks
        )
        if problem:
            fail(f"{key}.generator", problem)

    def inference(self) -> dict:
        """How super-resolved videos are made, this model's keys in its order (the generator's as ``spec``): what
        a bundle records and ``UpscaleJob.of`` builds from."""
        made = self.model_dump(include=set(Inference.model_fields) - {"generator"})
        return {**made, "spec": self.generator.model_dump()}
