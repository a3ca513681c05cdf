"""What scoring and super-resolution hold in memory, checked before anything is built: every size a bundle
or the settings ask for is capped alone, and so is their product, so that no combination of allowed
sizes asks a machine for more than it can hold. One line names the fields at fault."""

from __future__ import annotations

GIB = 2**30
INPUT_BUDGET = 4 * GIB  # the float32 input tensors of one scoring batch
GENERATOR_BUDGET = 1 * GIB  # a super-resolution generator's weights (the official one: 18 MB)
WINDOW_BUDGET = 4 * GIB  # the generator's features over one window of frames


def input_bytes(input_size: int, segments: int, views: int, batch: int) -> int:
    """Bytes of the float32 RGB clips a scoring batch feeds the network."""
    return input_size**2 * segments * views * batch * 3 * 4


def generator_bytes(mid_channels: int, propagation_blocks: int, cleaning_blocks: int) -> int:
    """Bytes of a RealBasicVSR generator's convolution weights (two propagation branches and the
    cleaning module of residual blocks, two 3x3 convolutions each), within a few percent."""
    return (2 * propagation_blocks + cleaning_blocks) * 2 * 9 * mid_channels**2 * 4


def window_bytes(size: int, window: int, mid_channels: int) -> int:
    """Bytes of the generator's float32 features over one window of output frames."""
    return size**2 * window * mid_channels * 4


def scoring_problem(input_size: int, segments: int, views: int, batch: int) -> str | None:
    """Why a scoring batch of these sizes exceeds its budget, or None."""
    need = input_bytes(input_size, segments, views, batch)
    if need <= INPUT_BUDGET:
        return None
    return (
        f"a scoring batch of {batch} clips x {views} views x {segments} frames of {input_size}x{input_size} px is "
        f"{need / GIB:.1f} GiB of input, over its {INPUT_BUDGET / GIB:.0f} GiB budget"
    )


def generator_problem(size: int, window: int, mid_channels: int, propagation_blocks: int, cleaning_blocks: int):
    """Why a generator of these sizes exceeds a budget (its weights, or its features over a window), or None."""
    weights = generator_bytes(mid_channels, propagation_blocks, cleaning_blocks)
    if weights > GENERATOR_BUDGET:
        return (
            f"a generator of {mid_channels} channels and {propagation_blocks} + {cleaning_blocks} blocks is "
            f"{weights / GIB:.1f} GiB of weights, over its {GENERATOR_BUDGET / GIB:.0f} GiB budget"
        )
    features = window_bytes(size, window, mid_channels)
    if features > WINDOW_BUDGET:
        return (
            f"a window of {window} frames of {size}x{size} px at {mid_channels} channels is {features / GIB:.1f} "
            f"GiB of features, over its {WINDOW_BUDGET / GIB:.0f} GiB budget"
        )
    return None
