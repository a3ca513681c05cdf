"""Stage train@<run> (and distill@<student>): train one run of params.yaml (of `runs` or `students`) with
the shared `train` settings.

    python -m stages.train <run>

With execution.nproc > 1 the stage relaunches itself under torchrun (one process per GPU, or per CPU
share with gloo). A student learns from labels and data/teachers/<student>.parquet. Outputs:
models/<run>/epoch_<n>.pth (every epoch), metrics/train/<run>/ (dvclive).
"""

import sys
from pathlib import Path

from tinyactions.app import stage
from tinyactions.core.checkpoint_io import CheckpointError
from tinyactions.core.errors import SettingsError
from tinyactions.core.paths import REPO
from tinyactions.data.settings import Dataset
from tinyactions.train.settings import RunReads, TrainExecution


class TrainReads(RunReads):
    data: Dataset
    execution: TrainExecution


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.train <run>")
    name = sys.argv[1]
    log = stage.logger(f"train@{name}")
    s = TrainReads.load(REPO.params)
    spec = s.run_spec(name)
    if spec.pretrained and not Path(spec.pretrained).is_file():
        raise SettingsError(f"train.pretrained.{spec.backbone}: {spec.pretrained} does not exist")
    stage.relaunch_on(s.execution.nproc, "stages.train", name, log=log)
    from tinyactions.train.run import train

    train(
        spec,
        REPO.models,
        REPO.train_metrics,
        REPO.train_logs,
        str(REPO.index("train")),
        str(REPO.index("val")),
        REPO.video_root(spec.input, s.data.root),
        teacher_file=str(REPO.teacher_scores(name)) if spec.loss == "kd" else None,
        workers=s.execution.loader_workers,
        batch_per_process=s.execution.batch_per_process,
    )
    log.info("done: %s", REPO.models / name)


if __name__ == "__main__":
    stage.run("train", main, errors=(CheckpointError,))  # train.pretrained: a file from elsewhere
