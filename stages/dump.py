"""Stage dump@<run>: score every saved epoch of a run on val and test into one table.

    python -m stages.dump <run>

Output: data/scores/<run>.parquet with columns run, epoch, split, id, sample_id, readable, s_<class>
(26 sigmoid scores; NaN where prepare flagged the video unreadable).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from tinyactions import params as P
from tinyactions.atomic import write_table
from tinyactions.scores import score_split
from stages.train import MODELS, PREPARED, run_spec, video_root

OUT = Path("data/scores")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.dump <run>")
    name = sys.argv[1]
    log = P.setup_logging(f"dump@{name}")
    p = P.load()
    from stages.distill import student_spec
    spec = student_spec(p) if name == P.get(p, "kd.student.name", str, default=None) else run_spec(p, name)
    views = P.get(p, "dump.views", int, minimum=1)
    chunk = P.get(p, "execution.score_chunk", int, minimum=1)
    checkpoints = {e: MODELS / name / f"epoch_{e}.pth" for e in range(1, spec.epochs + 1)}
    missing = [str(c) for c in checkpoints.values() if not c.is_file()]
    if missing:
        raise P.ParamError(f"runs.{name}.epochs: checkpoints missing: {', '.join(missing)}")
    tables = []
    for split in ("val", "test"):
        index = pd.read_parquet(PREPARED / f"{split}.parquet")
        with tqdm(total=int(index["readable"].sum()), unit="clip", desc=f"{split} x {len(checkpoints)} epochs") as bar:
            tables.append(score_split(spec, checkpoints, index, video_root(p, spec.input), split, views=views,
                                      chunk=chunk, progress=bar.update))
    table = pd.concat(tables, ignore_index=True)
    write_table(OUT / f"{name}.parquet", table)
    log.info("%d rows (%d epochs x val+test) -> %s", len(table), len(checkpoints), OUT / f"{name}.parquet")


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"dump: {e}")
