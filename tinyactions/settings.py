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

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tinyactions.challenge.annotations import CLASSES
from tinyactions.core.paths import GENERATOR, PARAMS, video_root
from tinyactions.superres.geometry import SCALE, plan_windows

# the choices of params.yaml, one definition each (the library imports them from here)
PRESETS = ("paper", "demo")  # backbone sizes: the seed's, or shrunk for 2 CPU cores
BACKBONE_NAMES = ("ircsn", "uniformer")
STRATEGIES = ("fixed", "f1", "frequency", "frequency_set")  # per-class threshold rules (tinyactions.decide.thresholds)
SHRINK_TARGETS = ("pooled", "prior")
BEST_BY = ("mAP", "f1")  # what a run's "best" epoch maximises on val
SR_INPUTS = ("native", "square")  # what the generator is fed: each clip at its own size, or size/4 squared
PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # numeric precision of a stage family (tinyactions.core.precision)
SR_CODECS = ("mp4v", "ffv1")  # how super-resolved video is stored: lossy MPEG-4, or lossless (tinyactions.data.video)
# A run's name names its folders (models/<run>, metrics/train/<run>, data/scores/<run>.parquet): no dot,
# no path, nothing that another output of models/ already is (the SR generator's folder).
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
RESERVED_RUN_NAMES = frozenset({GENERATOR.parent.name})
MEMBER = re.compile(rf"(?P<run>{RUN_NAME.pattern})@(?P<epoch>best|last|[0-9]+)")


class SettingsError(ValueError):
    """A missing, unknown or invalid parameter; the message is one line starting with its dotted key."""


@dataclass(frozen=True)
class Member:
    """An ensemble member ``run@epoch``: epoch an integer, ``best`` or ``last``."""

    run: str
    epoch: str  # as written

    @classmethod
    def parse(cls, text: str) -> "Member":
        m = MEMBER.fullmatch(str(text))
        if not m:
            raise ValueError(f"ensemble member {text!r} is not run@epoch (epoch: a number, best or last)")
        return cls(m["run"], m["epoch"])

    def __str__(self) -> str:
        return f"{self.run}@{self.epoch}"


@dataclass(frozen=True)
class RunSpec:
    """One named training run: ``runs.<name>`` or ``students.<name>`` with the shared ``train`` settings, as
    ``tinyactions.settings`` resolves them from params.yaml (which holds every default)."""

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


def validate_groups(groups: list[list[str]]) -> list[list[int]]:
    """Class indexes of each group; unknown names and overlapping groups are errors."""
    index = {c: i for i, c in enumerate(CLASSES)}
    seen: set[str] = set()
    out = []
    for g in groups:
        unknown = [c for c in g if c not in index]
        if unknown:
            raise ValueError(f"postprocess group {g}: unknown classes {unknown}")
        if seen & set(g):
            raise ValueError(f"postprocess group {g} overlaps another group on {sorted(seen & set(g))}")
        if len(g) < 2:
            raise ValueError(f"postprocess group {g} needs at least two classes")
        seen.update(g)
        out.append([index[c] for c in g])
    return out


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
    size: Annotated[int, Field(ge=SCALE)]
    input: Literal[SR_INPUTS]
    storage: Literal[SR_CODECS]
    generator: Generator
    window: Annotated[int, Field(ge=3)]
    overlap: Count
    precision: Literal[PRECISIONS]
    fit: Fit


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

    def video_root(self, input_kind: str) -> str:
        return video_root(input_kind, self.data.root)

    def members(self) -> list[Member]:
        return [Member.parse(m) for m in self.ensemble.members]


def _check(s: Settings) -> None:
    """Rules across keys and sections (types and ranges are the models')."""

    def fail(key: str, message: str):
        raise SettingsError(f"{key}: {message}")

    for name, span in (("lr_size", s.synth.lr_size), ("frames", s.synth.frames)):
        if not span.min <= span.median <= span.max:
            fail(f"synth.{name}", f"need min <= median <= max, got {span.min}, {span.median}, {span.max}")
    if s.synth.lr_size.min < 4:
        fail("synth.lr_size.min", f"{s.synth.lr_size.min} is below 4 px (TinyVIRAT's smallest people are 10 px)")
    if s.synth.lr_size.max > s.synth.hr_size:
        fail("synth.lr_size.max", f"{s.synth.lr_size.max} exceeds synth.hr_size {s.synth.hr_size}")
    for name in s.balance.tail_classes or []:
        if name not in CLASSES:
            fail("balance.tail_classes", f"{name!r} is not a class of the class map")
    for a, b in s.balance.mirrored_labels.items():
        if a not in CLASSES or b not in CLASSES:
            fail(f"balance.mirrored_labels.{a}", f"{a!r}: {b!r} names a class outside the class map")
    per_process = s.execution.batch_per_process or s.train.batch_size // s.execution.nproc
    if not per_process or s.train.batch_size % (s.execution.nproc * per_process):
        fail(
            "train.batch_size",
            f"{s.train.batch_size} (global) is not execution.nproc {s.execution.nproc} x "
            f"{per_process} clips per process x a whole number of accumulated steps; choose a global batch "
            f"divisible by the process count (and by execution.batch_per_process)",
        )
    if s.superres.weights == "fit" and s.data.source != "synth":
        fail(
            "superres.weights",
            "'fit' needs the generated demo's HR renders (data.source: synth); give the "
            "path of an official RealBasicVSR checkpoint for real data",
        )
    if s.superres.size % SCALE:
        fail("superres.size", f"{s.superres.size} is not a multiple of {SCALE}")
    try:
        plan_windows(s.superres.window + 1, s.superres.window, s.superres.overlap)
    except ValueError as e:
        fail("superres.window", str(e))
    if not s.runs:
        fail("runs", "no runs")
    for name in s.run_names():
        if not RUN_NAME.fullmatch(str(name)):
            fail(s.run_key(name), "a run name starts with a letter or digit, then letters, digits, '_' or '-'")
        if name in RESERVED_RUN_NAMES:
            fail(s.run_key(name), f"{name} names another output of {GENERATOR.parent.parent}/; pick another name")
    for name in set(s.runs) & set(s.students):
        fail(f"students.{name}", f"{name} is also a run in runs; pick another name")
    for name, student in s.students.items():
        teacher = s.runs.get(student.teacher)
        if teacher is None:
            fail(f"students.{name}.teacher", f"{student.teacher} is not a run of runs ({', '.join(s.runs)})")
        if teacher.input != "sr":
            fail(
                f"students.{name}.teacher",
                f"{student.teacher} is trained on {teacher.input} input; a teacher must be an sr run",
            )
        if isinstance(student.teacher_epoch, int) and student.teacher_epoch > teacher.epochs:
            fail(
                f"students.{name}.teacher_epoch",
                f"{student.teacher_epoch} is beyond the {teacher.epochs} epochs of {student.teacher}",
            )
    epochs = {name: s.run_spec(name).epochs for name in s.run_names()}
    numbered = [m for m in s.ensemble.members if not m.endswith(("@best", "@last"))]
    if len(set(numbered)) < len(numbered):  # best and last may repeat: the next best, the one before last
        twice = sorted({m for m in numbered if numbered.count(m) > 1})
        fail("ensemble.members", f"{', '.join(twice)} listed twice: members are distinct checkpoints")
    for name in s.ensemble.ablation_runs:
        if name not in s.runs:
            fail("ensemble.ablation_runs", f"{name} names no entry of runs (runs: {', '.join(s.runs)})")
    for text in s.ensemble.members:
        try:
            member = Member.parse(text)
        except ValueError as e:
            fail("ensemble.members", str(e))
        if member.run not in epochs:
            fail("ensemble.members", f"{member} names no run of this pipeline (runs: {', '.join(epochs)})")
        if member.run in s.ensemble.ablation_runs:
            fail("ensemble.members", f"{member}: {member.run} is in ensemble.ablation_runs (reported, never a member)")
        if member.epoch.isdigit() and not 1 <= int(member.epoch) <= epochs[member.run]:
            fail("ensemble.members", f"{member}: {member.run} has epochs 1..{epochs[member.run]}")
        per_run = sum(Member.parse(m).run == member.run for m in s.ensemble.members)
        if per_run > epochs[member.run]:
            fail(
                "ensemble.members",
                f"{per_run} members of {member.run}, which has {epochs[member.run]} epochs: "
                "members are distinct checkpoints",
            )
    if s.ensemble.weights is not None and len(s.ensemble.weights) != len(s.ensemble.members):
        fail("ensemble.weights", f"{len(s.ensemble.weights)} weights for {len(s.ensemble.members)} members")
    if s.ensemble.weights is not None and not sum(s.ensemble.weights) > 0:
        fail("ensemble.weights", "all zero: at least one member needs a positive weight")
    for split in ("train", "val", "test"):
        sources, clips = getattr(s.synth.sources, split), getattr(s.synth.videos, split)
        if sources.virat + sources.meva > clips:
            fail(
                f"synth.sources.{split}",
                f"{sources.virat + sources.meva} source videos for {clips} {split} clips: each source needs a clip",
            )
    if isinstance(s.postprocess.groups, list):
        try:
            validate_groups(s.postprocess.groups)
        except ValueError as e:
            fail("postprocess.groups", str(e))
    if s.thresholds.low > s.thresholds.high:
        fail("thresholds.low", f"{s.thresholds.low} is above thresholds.high {s.thresholds.high}")


def _unwrap(node):
    """The type under Annotated[...] and Optional[...] (pydantic tags neither in error locations)."""
    while True:
        if get_origin(node) is Annotated:
            node = get_args(node)[0]
        elif _is_union(node) and type(None) in get_args(node) and len(get_args(node)) == 2:
            node = next(a for a in get_args(node) if a is not type(None))
        else:
            return node


def _is_union(node) -> bool:
    return get_origin(node) is Union or type(node).__name__ == "UnionType"


def _is_model(node) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def _dotted(loc: tuple) -> tuple[str, object]:
    """The dotted key of a pydantic error location and the type it ends in. Union-branch tags (such as
    ``literal['best']`` or ``list[list[str]]``) select a branch and are left out of the key."""
    node, key = Settings, ""
    for part in loc:
        node = _unwrap(node)
        if _is_model(node) and isinstance(part, str) and part in node.model_fields:
            key, node = f"{key}.{part}" if key else part, node.model_fields[part].annotation
        elif _is_union(node):
            branches = [_unwrap(a) for a in get_args(node)]
            tag = str(part)
            node = next((b for b in branches if (get_origin(b) or b).__name__.lower() == tag.split("[")[0]), None)
        elif get_origin(node) is dict:
            key, node = f"{key}.{part}", get_args(node)[1]
        elif get_origin(node) is list and isinstance(part, int):
            key, node = f"{key}[{part}]", get_args(node)[0]
        else:
            break
    return key, _unwrap(node)


def _message(error: dict) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        parent, model = _dotted(loc[:-1])
        valid = list(model.model_fields) if _is_model(model) else []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        key = f"{parent}.{loc[-1]}" if parent else str(loc[-1])
        hint = (
            f" (did you mean {parent + '.' if parent else ''}{near[0]}?)"
            if near
            else f" (valid: {', '.join(valid)})"
            if valid
            else ""
        )
        return f"{key}: unknown key{hint}"
    key, _ = _dotted(loc)
    if error["type"] == "missing":
        return f"{key}: missing from params.yaml"
    message, value = error["msg"], error["input"]
    hint = ""
    if error["type"] == "float_type" and isinstance(value, str):
        try:
            float(value)
            hint = " (YAML reads a number without a dot, such as 1e-4, as text: write 1.0e-4)"
        except ValueError:
            pass
    return f"{key}: {message[0].lower()}{message[1:]}, got {value!r}{hint}"


def parse(data: object, source: str = str(PARAMS)) -> Settings:
    """Settings from the parsed YAML of params.yaml; raises SettingsError naming the first bad key."""
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a mapping at the top level")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        first_key = _dotted(tuple(errors[0]["loc"]))[0]
        deeper = [err for err in errors if _dotted(tuple(err["loc"]))[0].startswith((first_key + ".", first_key + "["))]
        if deeper:  # a union whose list branch was taken: the element is the mistake
            raise SettingsError(_message(deeper[0])) from None
        same = [err for err in errors if _dotted(tuple(err["loc"]))[0] == first_key]
        if len(same) > 1 and all(err["type"] not in ("missing", "extra_forbidden") for err in same):
            # a union (e.g. 'best' or an epoch number): one line with what each branch accepts
            raise SettingsError(
                f"{first_key}: "
                + " or ".join(err["msg"][0].lower() + err["msg"][1:] for err in same)
                + f", got {same[0]['input']!r}"
            ) from None
        raise SettingsError(_message(errors[0])) from None
    _check(settings)
    return settings


def load(path: str | Path = PARAMS) -> Settings:
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
