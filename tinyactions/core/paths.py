"""Where every stage reads and writes, relative to the repository root: the one spelling of each path
(dvc.yaml names the same paths as the stages' deps and outs)."""

from __future__ import annotations

import re
from pathlib import Path

PARAMS = Path("params.yaml")
VALIDATED = Path("data/params-validated.txt")  # validate's constant marker: every root stage depends on it
SYNTH_LR = Path("data/raw/tinyvirat-synth")  # the generated demo in the TinyVIRAT-v2 layout
SYNTH_HR = Path("data/raw/tinyvirat-synth-hr")  # its clean renders (the generator fit's targets)
PREPARED = Path("data/prepared")  # train/val/test.parquet, stats.json, cooccurrence.csv, problems.csv
LR_MANIFEST = Path("data/manifests/lr.json")
SR_MANIFEST = Path("data/manifests/sr.json")
SUPERRES = Path("data/superres")  # every readable video at superres.size, same relative paths
SUPERRES_CACHE = Path("data/.superres-cache")  # per-video cache, outside DVC's outputs
GENERATOR = Path("models/superres/generator.pth")
MODELS = Path("models")  # models/<run>/epoch_<n>.pth
SCORES = Path("data/scores")  # data/scores/<run>.parquet
TEACHERS = Path("data/teachers")  # data/teachers/<student>.parquet: a student's teacher on its training samples
METRICS = Path("metrics")
TRAIN_METRICS = METRICS / "train"  # metrics/train/<run>/ (dvclive)
TRAIN_LOGS = Path("logs/train")  # logs/train/<run>/: the Runner's timestamped logs, outside every output
ANSWER = Path("submission/answer.txt")
BUNDLE = Path("submission/bundle.json")  # the trained ensemble as one file (tinyactions.decide.bundle)
VAL_PREDICTIONS = Path("submission/val_predictions.csv")  # the bundle's decisions on val, as predict writes them


def index(split: str) -> Path:
    """The prepared index of a split."""
    return PREPARED / f"{split}.parquet"


def teacher_scores(student: str) -> Path:
    """The scores a student learns from: its teacher on the SR version of every training sample."""
    return TEACHERS / f"{student}.parquet"


def video_root(input_kind: str, data_root: str) -> str:
    """Where a run on ``lr`` or ``sr`` input reads its videos."""
    return str(SUPERRES) if input_kind == "sr" else data_root


# A run's name names its folders (models/<run>, metrics/train/<run>, data/scores/<run>.parquet)
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
