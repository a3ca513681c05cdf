"""The generated demo dataset: TinyVIRAT-v2 layout, determinism, and the shape of its labels."""

import json
import re
from collections import Counter
from itertools import combinations

import numpy as np
import pytest

from tinyactions.challenge.annotations import ANNOTATION_FILES, CLASSES, read_class_map, read_entries, video_file
from tinyactions.data.synth import (
    DETAIL_CLASSES,
    EXCLUSIVE_GROUPS,
    TAIL_CLASSES,
    Synth,
    _background,
    degrade,
    generate,
    render_clip,
    sample_labels,
)
from tinyactions.data.video import read_video

TINY = Synth.model_validate(
    {
        "seed": 3,
        "videos": {"train": 10, "val": 4, "test": 4},
        "hr_size": 48,
        "lr_size": {"min": 10, "max": 40, "median": 20},
        "frames": {"min": 6, "max": 40, "median": 16},
        "sources": {"train": {"virat": 2, "meva": 1}, "val": {"virat": 2, "meva": 1}, "test": {"virat": 1, "meva": 0}},
    }
)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(TINY, root / "lr", root / "hr")
    return root


def test_layout_and_schema_match_tinyvirat(tiny_dataset):
    lr = tiny_dataset / "lr"
    assert read_class_map(lr / "class_map.json") == CLASSES
    for split, digits in (("train", 6), ("val", 5), ("test", 5)):
        entries = read_entries(lr / ANNOTATION_FILES[split], labeled=split != "test")
        assert len(entries) == getattr(TINY.videos, split)
        for e in entries:
            assert re.fullmatch(rf"\d{{{digits}}}", e.id)
            assert video_file(lr, split, e).is_file()
            assert (tiny_dataset / "hr" / "videos" / split / e.path).is_file()
            if split == "test":
                assert e.path == f"{e.id}.mp4" and e.video_id == e.id and e.labels is None
            else:
                assert e.path.split("/")[0] == e.video_id
                assert re.match(r"VIRAT_S_\d{6}_\d{2}_\d{6}_\d{6}$|2018-03-\d\d\.\d+-\d\d-00\.", e.video_id)
    raw = json.loads((lr / "tiny_test_v2_public.json").read_text())
    assert all("label" not in e for e in raw)


def test_videos_match_their_dims_within_encoder_rounding(tiny_dataset):
    lr = tiny_dataset / "lr"
    for e in read_entries(lr / ANNOTATION_FILES["train"], labeled=True):
        frames = read_video(video_file(lr, "train", e))
        assert len(frames) == e.frames
        assert frames.shape[1] == frames.shape[2] == e.width - e.width % 2
        hr = read_video(tiny_dataset / "hr/videos/train" / e.path)
        assert hr.shape == (e.frames, 48, 48, 3)


def test_generation_is_deterministic(tmp_path):
    small = Synth.model_validate({**TINY.model_dump(), "videos": {"train": 3, "val": 1, "test": 1}})
    generate(small, tmp_path / "a", tmp_path / "ah")
    generate(small, tmp_path / "b", tmp_path / "bh")
    for name in ANNOTATION_FILES.values():
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_label_story_is_long_tailed_and_respects_exclusive_groups():
    rng = np.random.default_rng(0)
    draws = [sample_labels(rng) for _ in range(20000)]
    counts = Counter(label for labels in draws for label in labels)
    assert set(counts) == set(CLASSES), "every class occurs"
    top4 = [c for c, _ in counts.most_common(4)]
    assert set(top4) == {"activity_walking", "activity_standing", "activity_carrying", "Talking"}
    rare = [c for c in CLASSES if counts[c] / len(draws) < 0.015]
    assert len(rare) >= 7, rare
    assert counts.most_common()[0][1] / counts.most_common()[-1][1] > 40
    for labels in draws:
        assert len(labels) == len(set(labels))
        for group in EXCLUSIVE_GROUPS:
            assert len(set(group) & set(labels)) <= 1, labels
    pairs = Counter(p for labels in draws for p in combinations(sorted(labels), 2))
    assert pairs[("activity_carrying", "activity_walking")] > pairs[("activity_carrying", "activity_standing")] > 0
    assert pairs[("Talking", "activity_standing")] > 0


def test_fine_detail_classes_differ_mostly_in_a_few_pixels():
    """A phone at the head changes few pixels of the render: low resolution nearly erases it."""
    bg = _background(np.random.default_rng(0), 112)
    plain = render_clip(["activity_standing"], 8, 112, bg, np.random.default_rng(5)).astype(int)
    phone = render_clip(
        ["activity_standing", "specialized_talking_phone"], 8, 112, bg, np.random.default_rng(5)
    ).astype(int)
    changed = (np.abs(plain - phone).max(axis=-1) > 40).mean(axis=(1, 2))
    assert 0 < changed.mean() < 0.005


def test_each_split_has_its_own_source_videos(tiny_dataset):
    """Val's scenes are new to a model trained on train: folds and intervals grouped by source assume it."""
    lr = tiny_dataset / "lr"
    train = {e.video_id for e in read_entries(lr / ANNOTATION_FILES["train"], labeled=True)}
    val = {e.video_id for e in read_entries(lr / ANNOTATION_FILES["val"], labeled=True)}
    assert train and val and not train & val
    assert len(train) == TINY.sources.train.virat + TINY.sources.train.meva
    assert len(val) == TINY.sources.val.virat + TINY.sources.val.meva


def test_the_named_tail_and_detail_classes_are_what_the_story_makes():
    """The controls are fixed before measuring: the tail is what the story makes rare (with a margin on
    each side of balance.tail_max_share 0.05), and every detail class is drawn as a few-pixel cue."""
    rng = np.random.default_rng(1)
    n = 40000
    counts = Counter(label for _ in range(n) for label in sample_labels(rng))
    share = {c: counts[c] / n for c in CLASSES}
    assert max(share[c] for c in TAIL_CLASSES) < 0.035 < 0.065 < min(share[c] for c in CLASSES if c not in TAIL_CLASSES)
    assert set(DETAIL_CLASSES) <= set(CLASSES) and not set(DETAIL_CLASSES) & set(TAIL_CLASSES)
    assert min(share[c] for c in DETAIL_CLASSES) > 0.065  # enough clips to learn them from clean renders
    bg = _background(np.random.default_rng(0), 112)
    for name in DETAIL_CLASSES:  # the cue: a few pixels of the render, faint after the degradation to 20 px
        plain = render_clip(["activity_standing"], 4, 112, bg, np.random.default_rng(5))
        cued = render_clip(["activity_standing", name], 4, 112, bg, np.random.default_rng(5))
        changed = np.abs(cued.astype(int) - plain.astype(int)).max(axis=-1)
        assert 0 < (changed > 40).sum(axis=(1, 2)).max() < 150 and changed.max() > 100, name
        low = [degrade(clip, 20, np.random.default_rng(1)).astype(int) for clip in (plain, cued)]
        assert np.abs(low[1] - low[0]).max() < 0.4 * changed.max(), name  # most of its contrast is gone
