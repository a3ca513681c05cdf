"""Where the stages read and write: the one spelling of each path (dvc.yaml names the same paths as the
stages' deps and outs).

One rule for I/O: a stage (or a command of ``tinyactions.app``) resolves the workspace, ``REPO``, and
passes it (or the paths it names) to the library; no phase's module reads ``REPO`` itself, so a test
passes a ``Workspace`` of its own (a scratch folder) instead of changing directory. Paths a user sets in
params.yaml (``data.root``, weights) stay the user's: relative to where the process runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A run's name names its folders (models/<run>, metrics/train/<run>, data/scores/<run>.parquet)
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Workspace:
    """The files and folders the stages pass between them, under ``root`` (a stage's own metrics files are
    named inside ``metrics`` by the job that writes them). The repository's workspace has root ``.``, so
    that every path it gives (and every path recorded in an output) stays relative."""

    root: Path = Path(".")

    @property
    def params(self) -> Path:
        return self.root / "params.yaml"

    @property
    def validated(self) -> Path:
        """validate's constant marker: every root stage depends on it."""
        return self.root / "data/params-validated.txt"

    @property
    def synth_lr(self) -> Path:
        """The generated demo in the TinyVIRAT-v2 layout."""
        return self.root / "data/raw/tinyvirat-synth"

    @property
    def synth_hr(self) -> Path:
        """The demo's clean renders (the generator fit's targets), same relative paths."""
        return self.root / "data/raw/tinyvirat-synth-hr"

    @property
    def prepared(self) -> Path:
        """train/val/test.parquet, stats.json, cooccurrence.csv, problems.csv."""
        return self.root / "data/prepared"

    def index(self, split: str) -> Path:
        """The prepared index of a split."""
        return self.prepared / f"{split}.parquet"

    @property
    def stats(self) -> Path:
        """Counts per split and class, tail classes (prepare writes it, evaluate reads it)."""
        return self.prepared / "stats.json"

    @property
    def cooccurrence(self) -> Path:
        """Train videos per pair of classes (prepare writes it, evaluate derives groups from it)."""
        return self.prepared / "cooccurrence.csv"

    @property
    def lr_manifest(self) -> Path:
        return self.root / "data/manifests/lr.json"

    @property
    def sr_manifest(self) -> Path:
        return self.root / "data/manifests/sr.json"

    @property
    def superres(self) -> Path:
        """Every readable video at superres.size, same relative paths."""
        return self.root / "data/superres"

    @property
    def superres_cache(self) -> Path:
        """The per-video SR cache, outside DVC's outputs."""
        return self.root / "data/.superres-cache"

    @property
    def generator(self) -> Path:
        return self.root / "models/superres/generator.pth"

    @property
    def models(self) -> Path:
        """models/<run>/epoch_<n>.pth."""
        return self.root / "models"

    def checkpoint(self, run: str, epoch: int) -> Path:
        """The checkpoint a run saved after ``epoch``."""
        return self.models / run / f"epoch_{epoch}.pth"

    def scores(self, run: str) -> Path:
        """Every saved epoch of a run scored on val and test (the dump stage's output)."""
        return self.root / "data/scores" / f"{run}.parquet"

    def teacher_scores(self, student: str) -> Path:
        """The scores a student learns from: its teacher on the SR version of every training sample."""
        return self.root / "data/teachers" / f"{student}.parquet"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def train_metrics(self) -> Path:
        """metrics/train/<run>/ (dvclive)."""
        return self.metrics / "train"

    @property
    def train_logs(self) -> Path:
        """logs/train/<run>/: the Runner's timestamped logs, outside every output."""
        return self.root / "logs/train"

    @property
    def answer(self) -> Path:
        return self.root / "submission/answer.txt"

    @property
    def bundle(self) -> Path:
        """The trained ensemble as one file (tinyactions.decide.bundle)."""
        return self.root / "submission/bundle.json"

    @property
    def val_predictions(self) -> Path:
        """The bundle's decisions on val, as predict writes them."""
        return self.root / "submission/val_predictions.csv"

    def video_root(self, input_kind: str, data_root: str) -> str:
        """Where a run on ``lr`` or ``sr`` input reads its videos."""
        return str(self.superres) if input_kind == "sr" else data_root


REPO = Workspace()  # where the stages run: what they pass to the library
# The same layout relative to a project root, whatever workspace wrote it: how a bundle records its files
# (tinyactions.decide.bundle.project_file resolves them against the root predict is given).
PROJECT = Workspace()
