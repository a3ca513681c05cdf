"""Stage dump@<run>: score every saved epoch of a run on val and test into one table.

    python -m stages.dump <run>

Output: data/scores/<run>.parquet with columns run, epoch, split, id, sample_id, readable, s_<class>
(26 sigmoid scores; NaN where prepare flagged the video unreadable).
"""

import sys

from tqdm import tqdm

from tinyactions import settings, stage
from tinyactions.checkpoint_io import CheckpointError
from tinyactions.scores import dump_run


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.dump <run>")
    stage.logger(f"dump@{sys.argv[1]}")
    s = settings.load()
    spec = s.run_spec(sys.argv[1])
    bars = []

    def progress(description: str, total: int):
        for bar in bars:
            bar.close()
        bars.append(tqdm(total=total, unit="clip", desc=description))
        return bars[-1].update

    dump_run(
        spec,
        s.video_root(spec.input),
        s.dump.views,
        s.execution.score_chunk,
        s.dump.precision,
        s.epochs_key(spec.name),
        progress,
    )
    bars[-1].close()


if __name__ == "__main__":
    stage.run("dump", main, errors=(FileNotFoundError, CheckpointError))
