"""The one reader of params.yaml: typed, validated settings for every stage.

Every key is declared here with its type, range or choices; the values (the defaults included) live in
params.yaml only. ``load()`` checks the whole file at once, so a typo, a value out of range or a rule
across sections (a teacher must be an SR run, members must name runs, ...) fails before any stage
works, with one line that starts with the dotted key:
``students.ircsn_kd.alhpa: unknown key (did you mean students.ircsn_kd.alpha?)``.

Two kinds of settings: results (every section but ``execution``; dvc.yaml lists each stage's keys, so a
change reruns what it affects) and ``execution`` (workers, chunk sizes, process count: how a stage runs,
never what it computes; no stage lists it, so a change reruns nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tinyactions.challenge.annotations import CLASSES
from tinyactions.core.errors import SettingsError
from tinyactions.core.paths import REPO, RUN_NAME
from tinyactions.core.precision import PRECISIONS
from tinyactions.core.validation import one_line
from tinyactions.data.video import CODECS
from tinyactions.decide.groups import validate_groups
from tinyactions.decide.strategies import SHRINK_TARGETS, STRATEGIES
from tinyactions.score.member import BEST_BY, Member
from tinyactions.superres.geometry import INPUTS as SR_INPUTS
from tinyactions.superres.geometry import SCALE, plan_windows
from tinyactions.train.spec import BACKBONE_NAMES, PRESETS, RunSpec

# A run's name names its folders (models/<run>, metrics/train/<run>, data/scores/<run>.parquet): no dot,
# no path, nothing that another output of models/ already is (the SR generator's folder).
RESERVED_RUN_NAMES = frozenset({REPO.generator.parent.name})


Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DimTolerance(Section):
    frames: Count
    pixels: Count
    relative: Rate


class Data(Section):
    source: Literal["synth", "tinyvirat"]
    root: str
    bad_entries: Literal["fail", "skip"]
    dim_tolerance: DimTolerance


class SplitCounts(Section):
    train: Positive
    val: Positive
    test: Positive


class Span(Section):
    min: Positive
    max: Positive
    median: Positive


class Sources(Section):
    virat: Positive
    meva: Count


class SplitSources(Section):
    train: Sources
    val: Sources
    test: Sources


class Synth(Section):
    seed: Count
    videos: SplitCounts
    hr_size: Annotated[int, Field(ge=32, le=512)]
    lr_size: Span
    frames: Span
    sources: SplitSources


class Balance(Section):
    enabled: bool
    tail_max_share: Share
    tail_classes: list[str] | None
    copies: Count
    mirrored_labels: dict[str, str]


class Sampling(Section):
    mode: Literal["uniform", "dense"]
    segments: Positive
    dense_interval: Positive


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
    input_size: Annotated[int, Field(ge=16)]
    batch_size: Positive  # global: over every training process
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


class Execution(Section):
    nproc: Positive
    batch_per_process: Positive | None
    data_workers: Count
    loader_workers: Count
    score_chunk: Positive
    superres_batch: Positive
    superres_workers: Positive  # CPU processes (GPUs: one worker each, whatever this says)


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
    """A run that learns from labels and a teacher run's scores (seed eq. 1)."""

    loss: Literal["kd"]
    teacher: str  # a run of ``runs`` on sr input
    teacher_epoch: Literal["best", "last"] | Positive  # the teacher's checkpoint, chosen as ensemble members are
    alpha: Share  # L = alpha * BCE + (1 - alpha) * MSE(sigmoid(p), teacher)


class Generator(Section):
    mid_channels: Positive
    propagation_blocks: Positive
    cleaning_blocks: Positive


class Fit(Section):
    clips: Positive
    iterations: Count
    clip_len: Annotated[int, Field(ge=2)]
    batch: Positive
    lr: Rate
    eval_clips: Positive
    seed: Count
    precision: Literal["fp32", "bf16", "auto"]  # no fp16: the fit's loop does no loss scaling


class Superres(Section):
    weights: str  # fit | the path of an official checkpoint
    size: Annotated[int, Field(ge=SCALE, multiple_of=SCALE)]  # the generator upscales x4
    input: Literal[SR_INPUTS]  # what the generator is fed: each clip at its own size, or size/4 squared
    storage: Literal[tuple(CODECS)]  # how super-resolved video is stored: lossy MPEG-4 or lossless
    generator: Generator
    window: Annotated[int, Field(ge=3)]
    overlap: Count
    precision: Literal[PRECISIONS]
    fit: Fit

    def inference(self) -> dict:
        """How super-resolved videos are made: what a bundle records and ``UpscaleJob.of`` builds from."""
        return {
            "size": self.size,
            "input": self.input,
            "window": self.window,
            "overlap": self.overlap,
            "precision": self.precision,
            "storage": self.storage,
            "spec": self.generator.model_dump(),
        }


class Dump(Section):
    views: Positive
    precision: Literal[PRECISIONS]  # score dumps and the teacher's scores


class Thresholds(Section):
    strategy: Literal[STRATEGIES]
    prior: Share
    shrink_to: Literal[SHRINK_TARGETS]
    min_positives: Count
    low: Share
    high: Share
    folds: Annotated[int, Field(ge=2)]
    seed: Count


class Intervals(Section):
    draws: Annotated[int, Field(ge=100)]
    level: Annotated[float, Field(gt=0, lt=1)]
    seed: Count


class Greedy(Section):
    enabled: bool
    max_members: Positive


class Ensemble(Section):
    members: Annotated[list[str], Field(min_length=1)]
    weights: list[Rate] | None
    greedy: Greedy
    ablation_runs: list[str]  # trained and reported only (Table 1's rows): never a member or a candidate


class Postprocess(Section):
    groups: Literal["derive", "none"] | list[list[str]]
    min_expected: Rate
    apply: bool | Literal["auto"]
    keep: Literal["score", "margin"]


class Settings(Section):
    data: Data
    synth: Synth
    balance: Balance
    train: Train
    execution: Execution
    runs: dict[str, Run]
    students: dict[str, Student]
    best_by: Literal[BEST_BY]
    superres: Superres
    dump: Dump
    thresholds: Thresholds
    ensemble: Ensemble
    postprocess: Postprocess
    intervals: Intervals

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

    def run_spec(self, name: str) -> RunSpec:
        """The full recipe of run ``name`` (of ``runs`` or ``students``) with the shared ``train`` keys."""
        t = self.train
        run = self.students[name] if self.run_key(name).startswith("students.") else self.runs[name]
        return RunSpec(
            name=name,
            backbone=run.backbone,
            input=run.input,
            loss=run.loss,
            lr=run.lr,
            epochs=run.epochs,
            preset=t.preset,
            input_size=t.input_size,
            batch_size=t.batch_size,
            seed=t.seed if run.seed is None else run.seed,
            warmup_epochs=t.warmup_epochs,
            warmup_start_factor=t.warmup_start_factor,
            restart_period=t.restart_period,
            min_lr_ratio=t.min_lr_ratio,
            weight_decay=t.weight_decay,
            grad_clip=t.grad_clip,
            sampling=run.sampling or t.sampling.mode,
            balance=t.balance if run.balance is None else run.balance,
            segments=t.sampling.segments,
            dense_interval=t.sampling.dense_interval,
            pretrained=getattr(t.pretrained, run.backbone),
            precision=t.precision,
            kd_alpha=getattr(run, "alpha", None),
            asl=t.asl.model_dump(),
        )

    def epochs_key(self, name: str) -> str:
        """The dotted key that sets run ``name``'s epochs (for errors)."""
        return f"{self.run_key(name)}.epochs"

    def teacher(self, student: str) -> Member:
        """The teacher checkpoint rule of a student, as a member ``run@epoch``."""
        s = self.students[student]
        return Member(s.teacher, str(s.teacher_epoch))

    def members(self) -> list[Member]:
        return [Member.parse(m) for m in self.ensemble.members]


def _check(s: Settings) -> None:
    """Rules across keys and sections (types and ranges are the models'), one named step each."""
    for rule in (
        _synth_shapes,
        _balance_names_classes,
        _batch_divides_over_processes,
        _superres_fits_its_data,
        _runs_are_named,
        _students_learn_from_sr_runs,
        _members_name_checkpoints,
        _weights_match_members,
        _groups_name_classes,
        _threshold_ends_are_ordered,
    ):
        rule(s)


def _fail(key: str, message: str):
    raise SettingsError(f"{key}: {message}")


def _synth_shapes(s: Settings) -> None:
    """The demo's clip sizes and lengths are ordered spans; each source video gets a clip."""
    for name, span in (("lr_size", s.synth.lr_size), ("frames", s.synth.frames)):
        if not span.min <= span.median <= span.max:
            _fail(f"synth.{name}", f"need min <= median <= max, got {span.min}, {span.median}, {span.max}")
    if s.synth.lr_size.min < 4:
        _fail("synth.lr_size.min", f"{s.synth.lr_size.min} is below 4 px (TinyVIRAT's smallest people are 10 px)")
    if s.synth.lr_size.max > s.synth.hr_size:
        _fail("synth.lr_size.max", f"{s.synth.lr_size.max} exceeds synth.hr_size {s.synth.hr_size}")
    for split in ("train", "val", "test"):
        sources, clips = getattr(s.synth.sources, split), getattr(s.synth.videos, split)
        if sources.virat + sources.meva > clips:
            _fail(
                f"synth.sources.{split}",
                f"{sources.virat + sources.meva} source videos for {clips} {split} clips: each source needs a clip",
            )


def _balance_names_classes(s: Settings) -> None:
    for name in s.balance.tail_classes or []:
        if name not in CLASSES:
            _fail("balance.tail_classes", f"{name!r} is not a class of the class map")
    for a, b in s.balance.mirrored_labels.items():
        if a not in CLASSES or b not in CLASSES:
            _fail(f"balance.mirrored_labels.{a}", f"{a!r}: {b!r} names a class outside the class map")


def _batch_divides_over_processes(s: Settings) -> None:
    per_process = s.execution.batch_per_process or s.train.batch_size // s.execution.nproc
    if not per_process or s.train.batch_size % (s.execution.nproc * per_process):
        _fail(
            "train.batch_size",
            f"{s.train.batch_size} (global) is not execution.nproc {s.execution.nproc} x "
            f"{per_process} clips per process x a whole number of accumulated steps; choose a global batch "
            f"divisible by the process count (and by execution.batch_per_process)",
        )


def _superres_fits_its_data(s: Settings) -> None:
    """A fitted generator needs the demo's clean renders; the window plan must work."""
    if s.superres.weights == "fit" and s.data.source != "synth":
        _fail(
            "superres.weights",
            "'fit' needs the generated demo's HR renders (data.source: synth); give the "
            "path of an official RealBasicVSR checkpoint for real data",
        )
    try:
        plan_windows(s.superres.window + 1, s.superres.window, s.superres.overlap)
    except ValueError as e:
        _fail("superres.window", str(e))


def _runs_are_named(s: Settings) -> None:
    """Run names name folders: a safe spelling, not another output's, one namespace for runs and students."""
    if not s.runs:
        _fail("runs", "no runs")
    for name in s.run_names():
        if not RUN_NAME.fullmatch(str(name)):
            _fail(s.run_key(name), "a run name starts with a letter or digit, then letters, digits, '_' or '-'")
        if name in RESERVED_RUN_NAMES:
            _fail(s.run_key(name), f"{name} names another output of {REPO.models}/; pick another name")
    for name in set(s.runs) & set(s.students):
        _fail(f"students.{name}", f"{name} is also a run in runs; pick another name")


def _students_learn_from_sr_runs(s: Settings) -> None:
    for name, student in s.students.items():
        teacher = s.runs.get(student.teacher)
        if teacher is None:
            _fail(f"students.{name}.teacher", f"{student.teacher} is not a run of runs ({', '.join(s.runs)})")
        if teacher.input != "sr":
            _fail(
                f"students.{name}.teacher",
                f"{student.teacher} is trained on {teacher.input} input; a teacher must be an sr run",
            )
        if isinstance(student.teacher_epoch, int) and student.teacher_epoch > teacher.epochs:
            _fail(
                f"students.{name}.teacher_epoch",
                f"{student.teacher_epoch} is beyond the {teacher.epochs} epochs of {student.teacher}",
            )


def _members_name_checkpoints(s: Settings) -> None:
    """Members are distinct checkpoints of runs of this pipeline, never of an ablation run."""
    epochs = {name: s.run_spec(name).epochs for name in s.run_names()}
    numbered = [m for m in s.ensemble.members if not m.endswith(("@best", "@last"))]
    if len(set(numbered)) < len(numbered):  # best and last may repeat: the next best, the one before last
        twice = sorted({m for m in numbered if numbered.count(m) > 1})
        _fail("ensemble.members", f"{', '.join(twice)} listed twice: members are distinct checkpoints")
    for name in s.ensemble.ablation_runs:
        if name not in s.runs:
            _fail("ensemble.ablation_runs", f"{name} names no entry of runs (runs: {', '.join(s.runs)})")
    for text in s.ensemble.members:
        try:
            member = Member.parse(text)
        except ValueError as e:
            _fail("ensemble.members", str(e))
        if member.run not in epochs:
            _fail("ensemble.members", f"{member} names no run of this pipeline (runs: {', '.join(epochs)})")
        if member.run in s.ensemble.ablation_runs:
            _fail("ensemble.members", f"{member}: {member.run} is in ensemble.ablation_runs (reported, never a member)")
        if member.epoch.isdigit() and not 1 <= int(member.epoch) <= epochs[member.run]:
            _fail("ensemble.members", f"{member}: {member.run} has epochs 1..{epochs[member.run]}")
        per_run = sum(Member.parse(m).run == member.run for m in s.ensemble.members)
        if per_run > epochs[member.run]:
            _fail(
                "ensemble.members",
                f"{per_run} members of {member.run}, which has {epochs[member.run]} epochs: "
                "members are distinct checkpoints",
            )


def _weights_match_members(s: Settings) -> None:
    if s.ensemble.weights is not None and len(s.ensemble.weights) != len(s.ensemble.members):
        _fail("ensemble.weights", f"{len(s.ensemble.weights)} weights for {len(s.ensemble.members)} members")
    if s.ensemble.weights is not None and not sum(s.ensemble.weights) > 0:
        _fail("ensemble.weights", "all zero: at least one member needs a positive weight")


def _groups_name_classes(s: Settings) -> None:
    if isinstance(s.postprocess.groups, list):
        try:
            validate_groups(s.postprocess.groups)
        except ValueError as e:
            _fail("postprocess.groups", str(e))


def _threshold_ends_are_ordered(s: Settings) -> None:
    if s.thresholds.low > s.thresholds.high:
        _fail("thresholds.low", f"{s.thresholds.low} is above thresholds.high {s.thresholds.high}")


def parse(data: object, source: str = str(REPO.params)) -> Settings:
    """Settings from the parsed YAML of params.yaml; raises SettingsError naming the first bad key."""
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a mapping at the top level")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise SettingsError(one_line(Settings, e)) from None
    _check(settings)
    return settings


def load(path: str | Path = REPO.params) -> Settings:
    """The validated settings of ``path`` (params.yaml of the working directory by default)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: parameter file not found (run from the repository root)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path}: cannot be read: {e}") from None
    except yaml.YAMLError as e:
        raise SettingsError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    return parse(data, str(path))
