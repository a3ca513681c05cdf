"""The composer: every section of params.yaml at once, and the rules across sections.

Each section's model lives with its phase (``tinyactions/<phase>/settings.py``) and a stage validates only
the sections it reads (``tinyactions.core.params``). What no single section can say (a teacher must be an
SR run, members name checkpoints of this pipeline's runs, the batch divides over the processes) is
checked here, once, by the ``validate`` stage before any stage works; ``tinyactions profile`` checks a
profile the same way. No phase imports this module, so a rule added here reruns ``validate`` only.

Two kinds of settings: results (every section but ``execution``; dvc.yaml lists each stage's keys, so a
change reruns what it affects) and ``execution`` (how a stage runs, never what it computes; no stage lists
it, so a change reruns nothing).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict

from tinyactions.core import budget
from tinyactions.core.params import fail, read
from tinyactions.core.paths import REPO, RUN_NAME
from tinyactions.data.prepare import Balance, Data, PrepareExecution
from tinyactions.data.synth import Synth
from tinyactions.decide.settings import Evaluation
from tinyactions.score.settings import ScoreExecution
from tinyactions.superres.fit_settings import Superres
from tinyactions.superres.settings import UpscaleExecution
from tinyactions.train.settings import TrainExecution

# A run's name names its folders (models/<run>, metrics/train/<run>, data/scores/<run>.parquet): no dot,
# no path, nothing that another output of models/ already is (the SR generator's folder).
RESERVED_RUN_NAMES = frozenset({REPO.generator.parent.name})


class Execution(TrainExecution, ScoreExecution, UpscaleExecution, PrepareExecution):
    """The whole ``execution`` section: how stages run (processes, workers, chunk sizes), never what they
    compute. Each phase declares the keys it reads (a view); no stage lists the section as a DVC param, so a
    change of value reruns nothing and a killed run resumes."""

    model_config = ConfigDict(extra="forbid")


class Settings(Evaluation):
    """Every section of params.yaml; an unknown top-level key is an error."""

    model_config = ConfigDict(extra="forbid")

    data: Data  # the whole section (the other stages read the dataset's source and root)
    superres: Superres  # the whole section (the evaluate stage reads how videos are made)
    synth: Synth
    balance: Balance
    execution: Execution

    def check(self) -> None:
        """Rules across sections, one named step each."""
        for rule in (
            _batch_divides_over_processes,
            _superres_fits_its_data,
            _runs_are_named,
            _students_learn_from_sr_runs,
            _members_name_checkpoints,
            _scoring_fits_memory,
        ):
            rule(self)


def _batch_divides_over_processes(s: Settings) -> None:
    per_process = s.execution.batch_per_process or s.train.batch_size // s.execution.nproc
    if not per_process or s.train.batch_size % (s.execution.nproc * per_process):
        fail(
            "train.batch_size",
            f"{s.train.batch_size} (global) is not execution.nproc {s.execution.nproc} x "
            f"{per_process} clips per process x a whole number of accumulated steps; choose a global batch "
            f"divisible by the process count (and by execution.batch_per_process)",
        )


def _superres_fits_its_data(s: Settings) -> None:
    """A fitted generator needs the demo's clean renders."""
    if s.superres.weights == "fit" and s.data.source != "synth":
        fail(
            "superres.weights",
            "'fit' needs the generated demo's HR renders (data.source: synth); give the "
            "path of an official RealBasicVSR checkpoint for real data",
        )


def _runs_are_named(s: Settings) -> None:
    """Run names name folders: a safe spelling, not another output's, one namespace for runs and students."""
    if not s.runs:
        fail("runs", "no runs")
    for name in s.run_names():
        if not RUN_NAME.fullmatch(str(name)):
            fail(s.run_key(name), "a run name starts with a letter or digit, then letters, digits, '_' or '-'")
        if name in RESERVED_RUN_NAMES:
            fail(s.run_key(name), f"{name} names another output of {REPO.models}/; pick another name")
    for name in set(s.runs) & set(s.students):
        fail(f"students.{name}", f"{name} is also a run in runs; pick another name")


def _students_learn_from_sr_runs(s: Settings) -> None:
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


def _members_name_checkpoints(s: Settings) -> None:
    """Members are checkpoints of runs of this pipeline, never of an ablation run, within each run's epochs."""
    epochs = {name: s.run_spec(name).epochs for name in s.run_names()}
    for name in s.ensemble.ablation_runs:
        if name not in s.runs:
            fail("ensemble.ablation_runs", f"{name} names no entry of runs (runs: {', '.join(s.runs)})")
    members = s.ensemble.parsed()
    for member in members:
        if member.run not in epochs:
            fail("ensemble.members", f"{member} names no run of this pipeline (runs: {', '.join(epochs)})")
        if member.run in s.ensemble.ablation_runs:
            fail("ensemble.members", f"{member}: {member.run} is in ensemble.ablation_runs (reported, never a member)")
        if member.epoch.isdigit() and not 1 <= int(member.epoch) <= epochs[member.run]:
            fail("ensemble.members", f"{member}: {member.run} has epochs 1..{epochs[member.run]}")
        per_run = sum(m.run == member.run for m in members)
        if per_run > epochs[member.run]:
            fail(
                "ensemble.members",
                f"{per_run} members of {member.run}, which has {epochs[member.run]} epochs: "
                "members are distinct checkpoints",
            )


def _scoring_fits_memory(s: Settings) -> None:
    """A scoring batch (dump and teacher stages, predict) within its memory budget."""
    problem = budget.scoring_problem(
        s.train.input_size, s.train.sampling.segments, s.dump.views, s.execution.score_chunk
    )
    if problem:
        fail("execution.score_chunk", f"{problem} (with train.input_size, train.sampling.segments, dump.views)")


def parse(data: object, source: str = str(REPO.params)) -> Settings:
    """Settings from the parsed YAML of params.yaml; raises SettingsError naming the first bad key."""
    return Settings.parse(data, source)


def load(path: str | Path = REPO.params) -> Settings:
    """The validated settings of ``path`` (params.yaml of the working directory by default)."""
    return Settings.parse(read(path), str(path))
