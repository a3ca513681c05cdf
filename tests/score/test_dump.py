"""Score dumps: every (epoch, split, id) exactly once, unreadable videos kept, clips decoded once."""

import numpy as np
import pandas as pd
import torch

from tests.conftest import make_prepared, run_spec
from tinyactions.core.files import file_digest
from tinyactions.score.dump import SCORE_COLUMNS, score_split
from tinyactions.train import dataset
from tinyactions.train.recipes import model_config
from tinyactions.train.registry import build_model


def test_dump_rows_are_complete_unique_and_decoded_once(tmp_path, monkeypatch):
    prepared = make_prepared(tmp_path / "data", n_train=2, n_val=5)
    index = pd.read_parquet(prepared["val"])
    index.loc[4, "readable"] = False  # as prepare flags an unreadable test video
    spec = run_spec(name="r", lr=1e-3, epochs=2, input_size=24, segments=4)
    checkpoints = {}
    for epoch in (1, 2):
        torch.manual_seed(epoch)
        model = build_model(model_config(spec))
        checkpoints[epoch] = tmp_path / f"epoch_{epoch}.pth"
        torch.save({"state_dict": model.state_dict()}, checkpoints[epoch])
    calls = []
    real = dataset.read_sampled
    monkeypatch.setattr(dataset, "read_sampled", lambda path, sampler: calls.append(path) or real(path, sampler))

    table = score_split(spec, checkpoints, index, prepared["root"], "val", views=1, chunk=2, precision="fp32")
    assert len(calls) == 4, "each readable clip is decoded once for all epochs"
    assert len(table) == 2 * 5 and not table.duplicated(["run", "epoch", "split", "id"]).any()
    assert set(table["epoch"]) == {1, 2} and set(table["id"]) == set(index["id"])
    flagged = table[table["id"] == index.loc[4, "id"]]
    assert (~flagged["readable"]).all() and flagged[list(SCORE_COLUMNS)].isna().all().all()
    scores = table[table["readable"]][list(SCORE_COLUMNS)].to_numpy()
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    e1 = table[(table.epoch == 1) & table.readable][list(SCORE_COLUMNS)].to_numpy()
    e2 = table[(table.epoch == 2) & table.readable][list(SCORE_COLUMNS)].to_numpy()
    assert not np.allclose(e1, e2), "each epoch's own weights"
    again = score_split(spec, {1: checkpoints[1]}, index, prepared["root"], "val", views=1, chunk=3, precision="fp32")
    np.testing.assert_allclose(again[again.readable][list(SCORE_COLUMNS)].to_numpy(), e1, rtol=1e-5, atol=1e-6)
    assert {k: v for k, v in table.attrs.items() if k not in ("canary", "versions")} == {
        "precision": "fp32",
        "device": "cpu",
        "batch": 2,
        "checkpoints": {str(e): file_digest(path) for e, path in checkpoints.items()},
    }
    # each epoch's scores of the canary clips (tinyactions.score.canary), and the libraries that scored them
    from tinyactions.score import canary

    assert table.attrs["versions"] == canary.versions() and "torch" in table.attrs["versions"]
    canaries = {e: np.asarray(c) for e, c in table.attrs["canary"].items()}
    assert set(canaries) == {"1", "2"} and canaries["1"].shape == (len(canary.SHAPES), len(SCORE_COLUMNS))
    assert not np.allclose(canaries["1"], canaries["2"])
    np.testing.assert_array_equal(again.attrs["canary"]["1"], canaries["1"])  # another batch of videos: the same
    # bf16 autocast: the same decisions' scores within bf16 rounding, and the table says how it was made
    half = score_split(spec, {1: checkpoints[1]}, index, prepared["root"], "val", views=1, chunk=2, precision="bf16")
    assert {k: half.attrs[k] for k in ("precision", "device")} == {"precision": "bf16", "device": "cpu"}
    h1 = half[half.readable][list(SCORE_COLUMNS)].to_numpy()
    assert not np.array_equal(h1, e1) and np.abs(h1 - e1).max() < 0.05


def test_the_recorded_mmcv_version_is_the_same_from_mmcv_or_mmcv_lite(monkeypatch):
    # both install the package `mmcv` (lite: without the compiled ops no score uses); a switch between them
    # leaves the dumps' recorded versions, and so their bytes, as they were
    from importlib import metadata

    from tinyactions.score import canary

    installed = {"mmcv-lite": "2.1.0", "torch": "2.14.1"}

    def version(name):
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(canary.metadata, "version", version)
    assert canary.versions() == {"torch": "2.14.1", "mmcv": "2.1.0"}
    installed = {"mmcv": "2.1.0", "torch": "2.14.1"}
    assert canary.versions() == {"torch": "2.14.1", "mmcv": "2.1.0"}
    installed = {"torch": "2.14.1"}
    assert canary.versions() == {"torch": "2.14.1"}
