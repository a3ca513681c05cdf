"""The train phase's sections of params.yaml: ``train`` (what every run shares), ``runs`` and ``students``
(each run's own recipe), and what a stage that trains or scores one run reads of them (``RunReads``: the
run's full recipe, a ``RunSpec``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tinyactions.core.errors import SettingsError
from tinyactions.core.params import Count, Positive, Rate, Reads, Section, Share, View
from tinyactions.core.precision import PRECISIONS
from tinyactions.train.spec import (
    BACKBONE_NAMES,
    BATCH_MAX,
    DENSE_INTERVAL_MAX,
    INPUT_SIZE_MAX,
    PRESETS,
    SEGMENTS_MAX,
    RunSpec,
)


class Sampling(Section):
    mode: Literal["uniform", "dense"]
    segments: Annotated[int, Field(ge=1, le=SEGMENTS_MAX)]
    dense_interval: Annotated[int, Field(ge=1, le=DENSE_INTERVAL_MAX)]


class Asl(Section):
    gamma_neg: Rate
    gamma_pos: Rate
    clip: Share
    reduction: Literal["sum", "mean"]


class Pretrained(Section):
    ircsn: str | None
    uniformer: str | None


class Train(Section):
    preset: Literal[PRESETS]
    input_size: Annotated[int, Field(ge=16, le=INPUT_SIZE_MAX)]
    batch_size: Annotated[int, Field(ge=1, le=BATCH_MAX)]  # global: over every training process
    seed: Count
    warmup_epochs: Count
    warmup_start_factor: Annotated[float, Field(gt=0.0, le=1.0)]
    restart_period: Positive
    min_lr_ratio: Share
    weight_decay: Rate
    grad_clip: Rate  # 0: no clipping
    balance: bool
    sampling: Sampling
    asl: Asl
    pretrained: Pretrained
    precision: Literal[PRECISIONS]


class Run(Section):
    backbone: Literal[BACKBONE_NAMES]
    input: Literal["lr", "sr"]
    loss: Literal["bce", "asl"]
    lr: Rate
    epochs: Positive
    sampling: Literal["uniform", "dense"] | None = None  # None: train.sampling.mode
    balance: bool | None = None  # None: train.balance
    seed: Count | None = None  # None: train.seed; another seed makes a replica of a run of the same recipe


class Student(Run):
    """A run that learns from labels and a teacher run's scores (the paper's eq. 1)."""

    loss: Literal["kd"]
    teacher: str  # a run of ``runs`` on sr input
    teacher_epoch: Literal["best", "last"] | Positive  # the teacher's checkpoint, chosen as ensemble members are
    alpha: Share  # L = alpha * BCE + (1 - alpha) * MSE(sigmoid(p), teacher)


class TrainExecution(View):
    """What training reads of ``execution``: how a run trains, never what (a run's fingerprint leaves them out)."""

    nproc: Annotated[int, Field(ge=1, le=1024)]  # training processes (torchrun when > 1)
    # clips per process and step (None: train.batch_size / nproc)
    batch_per_process: Annotated[int, Field(ge=1, le=BATCH_MAX)] | None
    loader_workers: Annotated[int, Field(ge=0, le=256)]  # data-loading processes per training process


class RunReads(Reads):
    """What says what a run is: the shared ``train`` section with every entry of ``runs`` and ``students``."""

    train: Train
    runs: dict[str, Run]
    students: dict[str, Student]

    def run_names(self) -> list[str]:
        """Every trained run: ``runs``, then ``students``."""
        return [*self.runs, *self.students]

    def run_key(self, name: str) -> str:
        """The dotted key of run ``name``'s entry: ``runs.<name>`` or ``students.<name>``."""
        if name in self.students:
            return f"students.{name}"
        if name in self.runs:
            return f"runs.{name}"
        raise SettingsError(f"runs.{name}: no such run (runs: {', '.join(self.run_names())})")

    def teacher(self, student: str) -> tuple[str, str]:
        """A student's teacher: its run and checkpoint as written (``students.<name>.teacher``, ``.teacher_epoch``)."""
        entry = self.students[student]
        return entry.teacher, str(entry.teacher_epoch)

    def epochs_key(self, name: str) -> str:
        """The dotted key that sets run ``name``'s epochs (for errors)."""
        return f"{self.run_key(name)}.epochs"

    def run_spec(self, name: str) -> RunSpec:
        """The full recipe of run ``name`` (of ``runs`` or ``students``) with the shared ``train`` keys."""
        t = self.train
        run = self.students[name] if self.run_key(name).startswith("students.") else self.runs[name]
        shared = t.model_dump(exclude={"seed", "balance", "sampling", "asl", "pretrained"})
        return RunSpec(
            name=name,
            **run.model_dump(include={"backbone", "input", "loss", "lr", "epochs"}),
            **shared,
            seed=t.seed if run.seed is None else run.seed,
            sampling=run.sampling or t.sampling.mode,
            balance=t.balance if run.balance is None else run.balance,
            segments=t.sampling.segments,
            dense_interval=t.sampling.dense_interval,
            pretrained=getattr(t.pretrained, run.backbone),
            kd_alpha=getattr(run, "alpha", None),
            asl=t.asl.model_dump(),
        )
