from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import smooth_clip
from tinyactions.data import video
from tinyactions.data.video import VideoDecodeError, dense_indices, hflip, read_video, uniform_indices, write_video


def test_write_then_read_roundtrip(tmp_path):
    clip = smooth_clip(12, 48, 48)
    path = tmp_path / "a" / "clip.mp4"
    write_video(path, clip)
    back = read_video(path)
    assert back.shape == (12, 48, 48, 3) and back.dtype == np.uint8
    # lossy codec: close, not equal
    assert np.abs(back.astype(int) - clip.astype(int)).mean() < 12
    assert not list(path.parent.glob(".*")), "no temporary file may remain"


def test_odd_sizes_are_rounded_by_the_encoder(tmp_path):
    # Real TinyVIRAT dims such as 113 are stored even by common encoders: the index must use the file.
    write_video(tmp_path / "odd.mp4", smooth_clip(8, 33, 33))
    assert read_video(tmp_path / "odd.mp4").shape[1:3] == (32, 32)


@pytest.mark.parametrize("content", [None, b"", b"\x00\x01garbage" * 50])
def test_unreadable_files_raise_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoDecodeError, match="bad.mp4"):
        read_video(path)


def test_truncated_mp4_is_an_error_or_fewer_frames(tmp_path):
    path = tmp_path / "t.mp4"
    write_video(path, smooth_clip(30, 32, 32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    try:
        frames = read_video(path)
    except VideoDecodeError:
        return
    assert len(frames) < 30


def test_four_channel_decord_output_falls_back_to_opencv(tmp_path, monkeypatch):
    # dmlc/decord issue 336: some tiny clips decode with 4 channels.
    path = tmp_path / "c.mp4"
    write_video(path, smooth_clip(6, 16, 16))
    import decord

    monkeypatch.setattr(decord, "VideoReader", FourChannels)
    frames = read_video(path)
    assert frames.shape == (6, 16, 16, 3) and frames.mean() > 20  # real pixels, from OpenCV
    assert video.probe(path).frames == 6


class FourChannels:
    """decord's reader as dmlc/decord issue 336 has it for some tiny clips: 4 channels."""

    def __init__(self, *args, **kwargs):
        pass

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return np.zeros((16, 16, 4), np.uint8)

    def get_batch(self, indices):
        return SimpleNamespace(asnumpy=lambda: np.zeros((len(indices), 16, 16, 4), np.uint8))


def test_decoding_a_chunk_at_a_time_gives_the_frames_of_one_whole_decode(tmp_path, monkeypatch):
    """read_video and probe decode CHUNK_FRAMES at a time (probe keeps none of them): the same frames
    and count as decord's one call for every frame, across chunk boundaries."""
    import decord

    write_video(tmp_path / "long.mp4", smooth_clip(150, 24, 32))
    reader = decord.VideoReader(str(tmp_path / "long.mp4"), num_threads=1)
    whole = reader.get_batch(list(range(len(reader)))).asnumpy()
    for chunk in (64, 7, 150):
        monkeypatch.setattr(video, "CHUNK_FRAMES", chunk)
        assert np.array_equal(read_video(tmp_path / "long.mp4"), whole)
        assert video.probe(tmp_path / "long.mp4") == video.VideoInfo(frames=150, width=32, height=24)


def test_the_decode_cap_counts_frames_times_pixels(tmp_path):
    write_video(tmp_path / "c.mp4", smooth_clip(10, 16, 16))
    assert len(read_video(tmp_path / "c.mp4", limit=10 * 16 * 16)) == 10
    with pytest.raises(VideoDecodeError, match=r"c.mp4: 10 frames of 16x16 px exceed the decode cap of 2,559 pixels"):
        read_video(tmp_path / "c.mp4", limit=10 * 16 * 16 - 1)
    import decord

    with pytest.raises(VideoDecodeError, match="exceed the decode cap"):  # OpenCV's path stops as it counts
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(decord, "VideoReader", FourChannels)
            video.probe(tmp_path / "c.mp4", limit=5 * 16 * 16)


def test_uniform_test_mode_takes_segment_middles():
    assert uniform_indices(32, 16, train=False).tolist() == list(range(1, 32, 2))
    assert uniform_indices(160, 16, train=False).tolist() == list(range(5, 160, 10))


def test_uniform_train_mode_takes_one_frame_per_segment():
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = uniform_indices(100, 16, train=True, rng=rng)
        edges = np.linspace(0, 100, 17)
        assert np.all(idx >= np.floor(edges[:-1])) and np.all(idx < np.ceil(edges[1:]))
    draws = np.stack([uniform_indices(100, 16, train=True, rng=rng) for _ in range(20)])
    assert len(np.unique(draws[:, 0])) > 1, "training sampling must be random"


def test_uniform_short_clip_repeats_frames():
    idx = uniform_indices(5, 16, train=False)
    assert len(idx) == 16 and set(idx.tolist()) == set(range(5)) and np.all(np.diff(idx) >= 0)
    idx = uniform_indices(1, 16, train=True, rng=np.random.default_rng(0))
    assert idx.tolist() == [0] * 16


def test_dense_window_is_contiguous_centred_and_loops():
    assert dense_indices(100, 16, 1, train=False).tolist() == list(range(42, 58))
    assert dense_indices(100, 8, 2, train=False).tolist() == list(range(42, 57, 2))
    assert dense_indices(6, 8, 1, train=False).tolist() == [0, 1, 2, 3, 4, 5, 0, 1]
    starts = {dense_indices(100, 16, 1, True, np.random.default_rng(s))[0] for s in range(20)}
    assert len(starts) > 1 and max(starts) <= 84


def test_hflip_mirrors_width():
    clip = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    assert np.array_equal(hflip(clip)[:, :, 0], clip[:, :, -1])
    assert np.array_equal(hflip(hflip(clip)), clip)


def test_read_sampled_equals_indexing_the_whole_clip(tmp_path, monkeypatch):
    write_video(tmp_path / "s.mp4", smooth_clip(23, 24, 24))
    whole = read_video(tmp_path / "s.mp4")
    sampler = lambda n: uniform_indices(n, 16, train=False)  # noqa: E731
    picked = video.read_sampled(tmp_path / "s.mp4", sampler)
    assert np.array_equal(picked, whole[uniform_indices(23, 16, train=False)])
    short = video.read_sampled(tmp_path / "s.mp4", lambda n: [0, 0, 5, 22])
    assert np.array_equal(short, whole[[0, 0, 5, 22]])
    # the fallback path gives the same frames
    import decord

    monkeypatch.setattr(decord, "VideoReader", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    assert np.array_equal(video.read_sampled(tmp_path / "s.mp4", sampler), picked)


def test_uniform_views_cover_each_segment_and_one_view_is_the_middle():
    assert np.array_equal(video.uniform_view_indices(32, 16, 1), uniform_indices(32, 16, train=False))
    idx = video.uniform_view_indices(160, 16, 2).reshape(2, 16)
    assert idx[0].tolist() == list(range(2, 160, 10)) and idx[1].tolist() == list(range(7, 160, 10))
