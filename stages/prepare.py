"""Stage prepare: validate every annotation entry against its video and write the prepared index
(see tinyactions.preparation for the outputs)."""

from tqdm import tqdm

from tinyactions import settings, stage
from tinyactions.annotations import AnnotationError
from tinyactions.index import BadEntriesError, default_workers
from tinyactions.preparation import prepare


def main() -> None:
    log = stage.logger("prepare")
    s = settings.load()
    bars = []

    def progress(split: str):
        for bar in bars:
            bar.close()
        bars.append(tqdm(unit="video", desc=f"check {split}"))
        return bars[-1].update

    try:
        groups = s.postprocess.groups if isinstance(s.postprocess.groups, list) else []  # configured ones only
        stats = prepare(s.data, s.balance, groups, s.execution.data_workers or default_workers(), progress)
    finally:
        for bar in bars:
            bar.close()
    log.info("prepared %s videos (%d train samples with balance copies)", stats["videos"], stats["train_samples"])


if __name__ == "__main__":
    stage.run("prepare", main, errors=(AnnotationError, BadEntriesError, ValueError))
