"""RealBasicVSR's geometry, without torch: its x4 scale and how a long clip is cut into overlapping
windows of bounded memory. The settings check and the upscaler share these rules."""

from __future__ import annotations

SCALE = 4  # RealBasicVSR upscales x4: superres.size = 4 x the size the generator is fed


def plan_windows(length: int, window: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, end, keep_from, keep_to) per window: frames [start, end) go through the network and
    frames [keep_from, keep_to) of the clip are taken from it. Kept spans tile the clip exactly."""
    if window <= 2 * overlap:
        raise ValueError(f"window ({window}) must exceed twice the overlap ({overlap})")
    if length <= window:
        return [(0, length, 0, length)]
    step = window - 2 * overlap
    plans, keep_from = [], 0
    while keep_from < length:
        keep_to = min(keep_from + step, length)
        start = max(0, keep_from - overlap)
        end = min(length, start + window)
        start = max(0, end - window)
        plans.append((start, end, keep_from, keep_to))
        keep_from = keep_to
    return plans


# what the generator is fed: each clip at its own size (native), or size/4 squared (square)
INPUTS = ("native", "square")
