"""The ``data`` section of params.yaml: which dataset the pipeline reads (the generated demo or a TinyVIRAT-v2
root), and how prepare treats entries that disagree with their videos. Every stage that reads videos reads
``data.root``; the demo generator's section lives with it (``tinyactions.data.synth``), the balance section
with prepare (``tinyactions.data.prepare``)."""

from __future__ import annotations

from typing import Literal

from tinyactions.core.params import Count, Rate, Section


class DimTolerance(Section):
    frames: Count
    pixels: Count
    relative: Rate


class Data(Section):
    source: Literal["synth", "tinyvirat"]
    root: str
    bad_entries: Literal["fail", "skip"]
    dim_tolerance: DimTolerance
