"""bench/demo_signal.py's parts that decide what its table says: the workspace it runs the pipeline in,
and how a control's or component's intervals over seeds read."""

import importlib.util
from pathlib import Path

import yaml

from tinyactions import settings

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("demo_signal", ROOT / "bench/demo_signal.py")
demo_signal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_signal)


def test_a_seeds_workspace_is_the_demo_with_that_seed_and_a_legal_ensemble_of_lr_sr_and_kd():
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    p = demo_signal.workspace_params(base, 2, input_size=64)
    s = settings.parse(p)  # the pipeline's own stages must accept it
    assert (s.synth.seed, s.train.seed, s.train.input_size) == (2, 2, 64)
    assert s.run_names() == ["ircsn_lr", "ircsn_sr", "ircsn_kd"] and s.ensemble.ablation_runs == []
    assert [str(m) for m in s.ensemble.parsed()] == [
        "ircsn_lr@best",
        "ircsn_lr@last",
        "ircsn_sr@best",
        "ircsn_sr@last",
        "ircsn_kd@best",
        "ircsn_kd@last",
    ]
    assert s.run_spec("ircsn_lr") == settings.parse(
        {**base, "train": {**base["train"], "seed": 2, "input_size": 64}}
    ).run_spec("ircsn_lr")
    assert demo_signal.workspace_params(base, 0)["train"]["input_size"] == base["train"]["input_size"]
    longer = settings.parse(demo_signal.workspace_params(base, 0, epochs=9))
    assert {longer.run_spec(n).epochs for n in longer.run_names()} == {9}
    assert demo_signal.variant(None, None) == "" and demo_signal.variant(64, 9) == "_size64_epochs9"


def test_a_control_behaves_only_when_every_seeds_interval_does():
    def seeds(*bounds):
        return [{"ci": {"lo": lo, "hi": hi}, "smallest_detectable": 0.1} for lo, hi in bounds]

    above = seeds((0.01, 0.2), (0.02, 0.1))
    straddles = seeds((0.01, 0.2), (-0.02, 0.1))
    below = seeds((-0.3, -0.01), (-0.2, -0.1))
    assert demo_signal.verdict("above 0", above) == "behaves"
    assert demo_signal.verdict("above 0", straddles) == "**does not behave**"
    assert demo_signal.verdict("includes 0", straddles) == "**does not behave**"
    assert demo_signal.verdict("includes 0", seeds((-0.1, 0.1), (0.0, 0.3))) == "behaves"
    assert demo_signal.verdict("component", above) == "helps"
    assert demo_signal.verdict("component", below) == "hurts"
    assert demo_signal.verdict("component", straddles) == "not detectable at this size (smallest detectable 0.100)"


def test_the_balance_control_adds_as_many_flipped_copies_of_videos_without_a_tail_class():
    import numpy as np
    import pandas as pd

    from tinyactions.challenge.annotations import CLASSES
    from tinyactions.data.index import add_balance_copies
    from tinyactions.data.synth import TAIL_CLASSES

    rng = np.random.default_rng(0)
    n = 200
    rates = np.array([0.01 if c in TAIL_CLASSES else 0.2 for c in CLASSES])  # the tail is rare, as in the demo
    labels = (rng.random((n, len(CLASSES))) < rates).astype(int)
    index = pd.DataFrame({"id": [f"{i:06d}" for i in range(n)], "flip": False, "readable": True})
    index["sample_id"] = index["id"]
    for k, c in enumerate(CLASSES):
        index[f"y_{c}"] = labels[:, k]
    s = settings.load(ROOT / "params.yaml")
    real = add_balance_copies(index, list(TAIL_CLASSES), s.balance.copies, s.balance.mirrored_labels)
    control = demo_signal.no_tail_balance(real, s, seed=1)
    copies = control[control["flip"]]
    assert len(control) == len(real) and len(copies) == real["flip"].sum() > 0
    assert not copies[[f"y_{c}" for c in TAIL_CLASSES]].to_numpy().any()
    assert set(copies["sample_id"]) == {f"{i}:flip" for i in copies["id"]} and copies["id"].is_unique
    assert control[~control["flip"]].equals(index)
