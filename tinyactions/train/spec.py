"""What one training run is: its full recipe (``RunSpec``), and the presets and backbones a recipe names.
``tinyactions.train.settings.RunReads`` resolves a RunSpec from params.yaml; training, scoring, the bundle
and the report read it."""

from __future__ import annotations

from dataclasses import dataclass

# the largest sizes a run may ask for, in the settings and in a bundle (work and memory grow with them)
INPUT_SIZE_MAX = 1024  # px
SEGMENTS_MAX = 256  # frames per clip
DENSE_INTERVAL_MAX = 64
BATCH_MAX = 4096  # clips per update
PRESETS = ("paper", "demo")  # backbone sizes: the paper's, or shrunk for 2 CPU cores
BACKBONE_NAMES = ("ircsn", "uniformer")


@dataclass(frozen=True)
class RunSpec:
    """One named training run: ``runs.<name>`` or ``students.<name>`` with the shared ``train`` settings, as
    ``RunReads.run_spec`` resolves them from params.yaml (which holds every default)."""

    name: str
    backbone: str
    input: str  # lr | sr
    loss: str  # bce | asl | kd
    lr: float
    epochs: int
    preset: str
    input_size: int
    batch_size: int  # global: over all training processes
    seed: int
    warmup_epochs: int
    warmup_start_factor: float
    restart_period: int
    min_lr_ratio: float
    weight_decay: float
    grad_clip: float
    sampling: str
    balance: bool  # train on the flipped balance copies of the index
    segments: int
    dense_interval: int
    pretrained: str | None
    precision: str  # fp32 | bf16 | fp16 | auto (train.precision; resolved on the training device)
    kd_alpha: float | None  # the student's alpha (loss kd); None for other runs
    asl: dict
