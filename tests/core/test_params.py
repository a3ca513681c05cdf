"""A stage validates only the sections it reads: other sections, however broken, never stop it; a view reads
some keys of a section and leaves the others; each section's own rules run where it is read; every mistake
is one line naming its dotted key."""

import copy
from pathlib import Path

import pytest
import yaml

from tinyactions.core.errors import SettingsError
from tinyactions.core.params import Reads, Section, View, fail

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


class Span(Section):
    low: int
    high: int

    def check(self, key: str) -> None:
        if self.low > self.high:
            fail(f"{key}.low", f"{self.low} is above {key}.high {self.high}")


class Part(View):
    low: int


class Both(Reads):
    span: Span
    spans: dict[str, Span]


class OnlyPart(Reads):
    span: Part


def test_a_reads_validates_its_sections_only_and_runs_their_checks():
    good = {"span": {"low": 1, "high": 2}, "spans": {"a": {"low": 0, "high": 0}}, "other": {"broken": [1, 2]}}
    assert Both.parse(good).span.high == 2  # an unread top-level key is left to its readers
    with pytest.raises(SettingsError, match=r"^span.low: 3 is above span.high 2$"):
        Both.parse({**good, "span": {"low": 3, "high": 2}})
    with pytest.raises(SettingsError, match=r"^spans.a.low: 1 is above spans.a.high 0$"):  # each dict entry too
        Both.parse({**good, "spans": {"a": {"low": 1, "high": 0}}})
    with pytest.raises(SettingsError, match=r"^span.hihg: unknown key \(did you mean span.high\?\)$"):
        Both.parse({**good, "span": {"low": 1, "high": 2, "hihg": 3}})
    with pytest.raises(SettingsError, match=r"^span.low: input should be a valid integer, got '1'$"):
        Both.parse({**good, "span": {"low": "1", "high": 2}})
    with pytest.raises(SettingsError, match=r"^x.yaml: expected a mapping at the top level$"):
        Both.parse([1], "x.yaml")


def test_a_view_reads_some_keys_of_a_section():
    assert OnlyPart.parse({"span": {"low": 1, "high": "anything", "more": 1}}).span.low == 1
    with pytest.raises(SettingsError, match=r"^span.low: missing from params.yaml$"):
        OnlyPart.parse({"span": {"high": 2}})


def test_a_stage_is_not_stopped_by_a_section_it_does_not_read():
    """prepare reads data, balance and its share of execution: a broken thresholds section (evaluate's)
    does not stop it, while the composer, which validate runs first, refuses the file."""
    from stages.prepare import PrepareReads
    from stages.superres import SuperresReads
    from stages.synth import SynthReads
    from tinyactions import settings

    p = copy.deepcopy(BASE)
    p["thresholds"]["strategy"] = "nope"
    p["superres"]["fit"]["iterations"] = "many"  # the fit's, which the superres stage does not read
    assert PrepareReads.parse(p).balance.enabled is BASE["balance"]["enabled"]
    assert SuperresReads.parse(p).superres.inference()["size"] == BASE["superres"]["size"]
    with pytest.raises(SettingsError, match=r"^superres.fit.iterations: "):
        settings.parse(p)
    p["superres"]["fit"]["iterations"] = 1
    with pytest.raises(SettingsError, match=r"^thresholds.strategy: input should be "):
        settings.parse(p)
    # a section's own rule runs where the section is read: the synth stage checks the demo's spans
    p = copy.deepcopy(BASE)
    p["synth"]["lr_size"].update(min=20, median=10)
    with pytest.raises(SettingsError, match=r"^synth.lr_size: need min <= median <= max, got 20, 10, "):
        SynthReads.parse(p)
    assert PrepareReads.parse(p).data.root == BASE["data"]["root"]
