"""One progress helper: a bar on a terminal, a line every N seconds (and a last one) in a log."""

import io

import pytest

from tinyactions.core.progress import Phases, Progress, duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_per_interval_with_the_rate_and_a_last_line():
    out, clock = io.StringIO(), Clock()
    with Progress("superres", total=100, unit="clip", stream=out, interval=30, clock=clock) as bar:
        for _ in range(100):
            clock.now += 1.0  # one clip a second
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 + 1  # at 30, 60 and 90 s, then the total
    assert lines[0].endswith("superres: 30/100 clips (30%), 1.0 clips/s, 1 min 10 s left")
    assert lines[2].endswith("superres: 90/100 clips (90%), 1.0 clips/s, 10 s left")
    assert lines[3].endswith("superres: 100 clips in 1 min 40 s, 1.0 clips/s")
    assert "\r" not in out.getvalue()


def test_a_resumed_loop_counts_its_rate_from_where_it_started_and_an_open_total_has_no_eta():
    out, clock = io.StringIO(), Clock()
    bar = Progress("predict", total=10, unit="clip", initial=6, stream=out, interval=1, clock=clock)
    clock.now = 2.0
    bar.update(2)
    assert out.getvalue().splitlines()[0].endswith("predict: 8/10 clips (80%), 1.0 clips/s, 2 s left")
    out, clock = io.StringIO(), Clock()
    bar = Progress("check train", unit="video", stream=out, interval=1, clock=clock)
    clock.now = 4.0
    bar.update(10, l1="0.0123")
    assert out.getvalue().splitlines()[0].endswith("check train: 10 videos, 2.5 videos/s, l1 0.0123")


def test_a_terminal_gets_a_bar_with_the_rate():
    out = Terminal()
    with Progress("dump", total=4, unit="clip", stream=out) as bar:
        bar.update(4)
    assert "\r" in out.getvalue() and "4/4" in out.getvalue() and "clip/s" in out.getvalue()


def test_phases_close_one_bar_when_the_next_opens(monkeypatch):
    monkeypatch.setenv("TINYACTIONS_PROGRESS_SECONDS", "1000")
    out = io.StringIO()
    with Phases("video", stream=out) as progress:
        progress("check train")(3)
        assert out.getvalue() == ""  # still open: no line before the interval
        progress("check val", 5)(5)
        assert out.getvalue().count("\n") == 1 and "check train: 3 videos in" in out.getvalue()
    assert " check val: 5 videos in " in out.getvalue().splitlines()[1]


@pytest.mark.parametrize("seconds,text", [(42.4, "42 s"), (185, "3 min 5 s"), (7260, "2 h 1 min")])
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert duration(seconds) == text
