"""Every dumped checkpoint's scores as dense arrays: what the evaluate stage's folds and greedy steps slice.

The score tables (one per run: epoch x split x video) are joined on video ids once, here; after that a
checkpoint is an index into ``val``/``test`` and a subset of val is a boolean mask over its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tinyactions.challenge.annotations import SCORE_COLUMNS


@dataclass(frozen=True)
class Checkpoints:
    keys: list[tuple[str, int]]  # (run, epoch), in the order of the arrays' first axis
    val: np.ndarray  # (checkpoints, val videos, classes), NaN for unreadable videos
    test: np.ndarray  # (checkpoints, test videos, classes)

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame], val_ids: list[str], test_ids: list[str]) -> "Checkpoints":
        keys, arrays = [], {"val": [], "test": []}
        for run, table in tables.items():
            for split, ids in (("val", val_ids), ("test", test_ids)):
                rows = table[table["split"] == split]
                position = pd.Index(ids).get_indexer(rows["id"])
                for epoch in sorted(int(e) for e in table["epoch"].unique()):
                    mine = (rows["epoch"] == epoch).to_numpy() & (position >= 0)  # other ids: not asked for
                    found = np.zeros(len(ids), bool)
                    found[position[mine]] = True
                    if not found.all():
                        missing = [ids[i] for i in np.flatnonzero(~found)[:5]]
                        raise KeyError(f"scores of {run}@{epoch} lack {split} ids {missing}")
                    matrix = np.empty((len(ids), len(SCORE_COLUMNS)), np.float32)
                    matrix[position[mine]] = rows.loc[mine, list(SCORE_COLUMNS)].to_numpy(np.float32)
                    arrays[split].append(matrix)
                    if split == "val":
                        keys.append((run, epoch))
        return cls(keys, np.stack(arrays["val"]), np.stack(arrays["test"]))

    def index(self, run: str, epoch: int) -> int:
        return self.keys.index((run, epoch))

    def epochs(self) -> dict[str, list[int]]:
        """The dumped epochs of every run."""
        out: dict[str, list[int]] = {}
        for run, epoch in self.keys:
            out.setdefault(run, []).append(epoch)
        return out

    def name(self, i: int) -> str:
        run, epoch = self.keys[i]
        return f"{run}@{epoch}"
