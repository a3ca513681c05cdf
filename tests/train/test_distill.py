"""Distillation targets join by sample id; the student's params validate; KD reaches the loss."""

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import make_prepared
from tinyactions.challenge.annotations import SCORE_COLUMNS
from tinyactions.train.dataset import TinyVideoDataset
from tinyactions.train.losses import DistillationLoss


def teacher_table(index: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.random((len(index), 26)).astype(np.float32), columns=list(SCORE_COLUMNS))
    table.insert(0, "sample_id", index["sample_id"].to_numpy())
    return table


def test_teacher_scores_join_by_sample_id_not_row_order(tmp_path):
    prepared = make_prepared(tmp_path / "data", n_train=6, n_val=2)
    index = pd.read_parquet(prepared["train"])
    flipped = index.head(2).copy()
    flipped["flip"], flipped["sample_id"] = True, flipped["id"] + ":flip"
    index = pd.concat([index, flipped], ignore_index=True)
    index.to_parquet(prepared["train"], index=False)
    table = teacher_table(index)
    table.to_parquet(tmp_path / "ordered.parquet", index=False)
    table.sample(frac=1.0, random_state=3).to_parquet(tmp_path / "shuffled.parquet", index=False)

    def load(name):
        ds = TinyVideoDataset(
            prepared["train"], pipeline=[], video_root=prepared["root"], teacher_file=str(tmp_path / name)
        )
        return [ds.get_data_info(i) for i in range(len(ds))]

    ordered, shuffled = load("ordered.parquet"), load("shuffled.parquet")
    expected = table.set_index("sample_id")
    logits = torch.randn(len(ordered), 26)
    labels = torch.stack([torch.as_tensor(d["label"]) for d in ordered])
    losses = []
    for items in (ordered, shuffled):
        for d in items:
            np.testing.assert_array_equal(d["teacher_scores"], expected.loc[d["sample_id"]].to_numpy())
        teacher = torch.stack([torch.as_tensor(d["teacher_scores"]) for d in items])
        losses.append(DistillationLoss(alpha=0.3)(logits, labels, teacher).item())
    assert losses[0] == losses[1]
    assert any(d["sample_id"].endswith(":flip") for d in ordered)


def test_missing_teacher_scores_are_an_error_naming_samples(tmp_path):
    prepared = make_prepared(tmp_path / "data", n_train=4, n_val=2)
    index = pd.read_parquet(prepared["train"])
    teacher_table(index).iloc[1:].to_parquet(tmp_path / "t.parquet", index=False)
    with pytest.raises(KeyError, match="no teacher scores for 1 samples"):
        TinyVideoDataset(
            prepared["train"], pipeline=[], video_root=prepared["root"], teacher_file=str(tmp_path / "t.parquet")
        )
