"""Members name checkpoints by their ids, never by row order; the best-epoch rule; weighted averaging."""

import numpy as np
import pandas as pd
import pytest

from tinyactions.decide import ensemble
from tinyactions.score import best_epoch
from tinyactions.score.dump import SCORE_COLUMNS
from tinyactions.score.member import Member


def table(run, epochs, ids, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for e in epochs:
        for split in ("val", "test"):
            for i in ids:
                rows.append(
                    {
                        "run": run,
                        "epoch": e,
                        "split": split,
                        "id": i,
                        "sample_id": i,
                        "readable": True,
                        **dict(zip(SCORE_COLUMNS, rng.random(26))),
                    }
                )
    return pd.DataFrame(rows)


def test_ensemble_aligns_members_by_id_not_row_order():
    ids = ["00000", "00001", "00002"]
    a = table("a", [1, 2], ids, 0)
    shuffled = a.sample(frac=1.0, random_state=0)
    np.testing.assert_array_equal(
        best_epoch.split_matrix(a, "val", 2, ids), best_epoch.split_matrix(shuffled, "val", 2, ids)
    )
    m = best_epoch.split_matrix(a, "val", 1, ids)
    assert np.allclose(ensemble.average([m, 3 * m], [1, 1]), 2 * m) and np.allclose(
        ensemble.average([m, 3 * m], [3, 1]), 1.5 * m
    )
    labels = (m >= 0.5).astype(int)  # epoch 1 is perfect at 0.5 by construction
    assert best_epoch.resolve(Member.parse("a@best"), a, ids, labels, best_by="mAP", key="k") == 1
    assert best_epoch.resolve(Member.parse("a@best"), a, ids, labels, best_by="f1", key="k") == 1
    assert best_epoch.resolve(Member.parse("a@last"), a, ids, labels, best_by="mAP", key="k") == 2
    with pytest.raises(ValueError, match="not run@epoch"):
        Member.parse("a-best")
    with pytest.raises(KeyError, match="lack val ids"):
        best_epoch.split_matrix(a, "val", 1, ids + ["00009"])
