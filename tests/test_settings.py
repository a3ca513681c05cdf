"""params.yaml is read in one place: the whole file is checked at once, and each mistake is one line that
names its dotted key (and the nearest valid key for a typo)."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tinyactions import settings
from tinyactions.core.errors import SettingsError

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


def error(change) -> str:
    p = copy.deepcopy(BASE)
    change(p)
    with pytest.raises(SettingsError) as e:
        settings.parse(p)
    return str(e.value)


def test_the_shipped_params_and_every_run_resolve():
    s = settings.load(ROOT / "params.yaml")
    assert s.run_names() == [*BASE["runs"], *BASE["students"]] and list(BASE["students"]) == ["ircsn_kd"]
    student = s.run_spec("ircsn_kd")
    assert (student.loss, student.input, student.kd_alpha) == ("kd", "lr", BASE["students"]["ircsn_kd"]["alpha"])
    assert s.teacher("ircsn_kd") == ("ircsn_sr", "last") and s.epochs_key("ircsn_kd") == "students.ircsn_kd.epochs"
    run = s.run_spec("ircsn_lr")
    assert run.kd_alpha is None and run.batch_size == BASE["train"]["batch_size"]
    assert run.sampling == BASE["train"]["sampling"]["mode"] and run.balance is BASE["train"]["balance"]
    with pytest.raises(SettingsError, match=r"^runs.nope: no such run \(runs: ircsn_lr, "):
        s.run_spec("nope")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda p: p["students"]["ircsn_kd"].update(alhpa=0.3),
            "students.ircsn_kd.alhpa: unknown key (did you mean students.ircsn_kd.alpha?)",
        ),
        (
            lambda p: p["runs"]["ircsn_lr"].update(epoch=3),
            "runs.ircsn_lr.epoch: unknown key (did you mean runs.ircsn_lr.epochs?)",
        ),
        (lambda p: p.update(trian={}), "trian: unknown key (did you mean train?)"),
        (lambda p: p["train"].pop("seed"), "train.seed: missing from params.yaml"),
        (
            lambda p: p["superres"].update(window=8, overlap=4),
            "superres.window: window (8) must exceed twice the overlap (4)",
        ),
        (
            lambda p: p["ensemble"]["members"].append("nope@best"),
            "ensemble.members: nope@best names no run of this pipeline (runs: ircsn_lr, uniformer_lr, ircsn_lr_asl, "
            "ircsn_sr, uniformer_sr, ircsn_lr_dense, ircsn_lr_nobal, ircsn_kd)",
        ),
        (
            lambda p: p["ensemble"].update(ablation_runs=["ircsn_lr"]),
            "ensemble.members: ircsn_lr@best: ircsn_lr is in ensemble.ablation_runs (reported, never a member)",
        ),
        (
            lambda p: p["ensemble"].update(ablation_runs=["ircsn_kd"]),
            "ensemble.ablation_runs: ircsn_kd names no entry of runs (runs: ircsn_lr, uniformer_lr, ircsn_lr_asl, "
            "ircsn_sr, uniformer_sr, ircsn_lr_dense, ircsn_lr_nobal)",
        ),
        (
            lambda p: p["ensemble"]["members"].append("ircsn_lr@9"),
            "ensemble.members: ircsn_lr@9: ircsn_lr has epochs 1..6",
        ),
        (lambda p: p["ensemble"].update(weights=[1, 2]), "ensemble.weights: 2 weights for 12 members"),
        (
            lambda p: p["ensemble"]["members"].extend(["ircsn_lr@3", "ircsn_lr@3"]),
            "ensemble.members: ircsn_lr@3 listed twice: members are distinct checkpoints",
        ),
        (
            lambda p: p["ensemble"]["members"].extend(
                ["ircsn_lr@1", "ircsn_lr@2", "ircsn_lr@3", "ircsn_lr@4", "ircsn_lr@best"]
            ),
            "ensemble.members: 7 members of ircsn_lr, which has 6 epochs: members are distinct checkpoints",
        ),
        (
            lambda p: p["students"]["ircsn_kd"].update(teacher="ircsn_lr"),
            "students.ircsn_kd.teacher: ircsn_lr is trained on lr input; a teacher must be an sr run",
        ),
        (
            lambda p: p["students"]["ircsn_kd"].update(teacher="ircsn_kd"),
            "students.ircsn_kd.teacher: ircsn_kd is not a run of runs (ircsn_lr, uniformer_lr, ircsn_lr_asl, ircsn_sr, "
            "uniformer_sr, ircsn_lr_dense, ircsn_lr_nobal)",
        ),
        (
            lambda p: p["students"]["ircsn_kd"].update(alpha=1.5),
            "students.ircsn_kd.alpha: input should be less than or equal to 1, got 1.5",
        ),
        (
            lambda p: p["students"]["ircsn_kd"].update(loss="bce"),
            "students.ircsn_kd.loss: input should be 'kd', got 'bce'",
        ),
        (
            lambda p: p["students"].update(ircsn_lr=p["students"]["ircsn_kd"]),
            "students.ircsn_lr: ircsn_lr is also a run in runs; pick another name",
        ),
        (
            lambda p: p["students"]["ircsn_kd"].update(teacher_epoch="bst"),
            "students.ircsn_kd.teacher_epoch: input should be 'best' or 'last' or input should be a valid integer, "
            "got 'bst'",
        ),
        (
            lambda p: p["students"]["ircsn_kd"].update(teacher_epoch=7),
            "students.ircsn_kd.teacher_epoch: 7 is beyond the 6 epochs of ircsn_sr",
        ),
        (lambda p: p.update(best_by="map"), "best_by: input should be 'mAP' or 'f1', got 'map'"),
        (
            lambda p: p["thresholds"].update(strategy="f2"),
            "thresholds.strategy: input should be 'fixed', 'flat', 'f1', 'frequency' or 'frequency_set', got 'f2'",
        ),
        (
            lambda p: p["execution"].update(loader_workers=-1),
            "execution.loader_workers: input should be greater than or equal to 0, got -1",
        ),
        (
            lambda p: p["runs"]["ircsn_lr"].update(lr="1e-4"),
            "runs.ircsn_lr.lr: input should be a valid number, got '1e-4' "
            "(YAML reads a number without a dot, such as 1e-4, as text: write 1.0e-4)",
        ),
        (
            lambda p: (p["train"].update(batch_size=7), p["execution"].update(nproc=2)),
            "train.batch_size: 7 (global) is not execution.nproc 2 x 3 clips per process x a whole number of "
            "accumulated steps",
        ),
        (
            lambda p: p["postprocess"].update(groups="derivee"),
            "postprocess.groups: input should be 'derive' or 'none' or input should be a valid list, got 'derivee'",
        ),
        (
            lambda p: p["postprocess"].update(groups=[[1, 2]]),
            "postprocess.groups[0][0]: input should be a valid string, got 1",
        ),
        (
            lambda p: p["balance"].update(tail_classes=["Push", 3]),
            "balance.tail_classes[1]: input should be a valid string",
        ),
        (lambda p: p["ensemble"].update(members=[]), "ensemble.members: list should have at least 1 item"),
        (lambda p: p["ensemble"].update(weights=[0] * 12), "ensemble.weights: all zero"),
        (lambda p: p["runs"]["ircsn_lr"].update(lr=float("inf")), "runs.ircsn_lr.lr: input should be a finite number"),
        (lambda p: p["execution"].update(nproc="8"), "execution.nproc: input should be a valid integer, got '8'"),
        (
            lambda p: p["data"].update(source="tinyvirat"),
            "superres.weights: 'fit' needs the generated demo's HR renders",
        ),
        (
            lambda p: p["postprocess"].update(groups=[["Push", "Nope"]]),
            "postprocess.groups: postprocess group ['Push', 'Nope']: unknown classes ['Nope']",
        ),
        (
            lambda p: p["balance"]["mirrored_labels"].update(x="y"),
            "balance.mirrored_labels.x: 'x': 'y' names a class outside the class map",
        ),
        (lambda p: p["synth"]["lr_size"].update(max=200), "synth.lr_size.max: 200 exceeds synth.hr_size 112"),
        (
            lambda p: p["synth"]["videos"].update(val=29),
            "synth.sources.val: 30 source videos for 29 val clips: each source needs a clip",
        ),
        (
            lambda p: p["postprocess"].update(keep="top"),
            "postprocess.keep: input should be 'score' or 'margin'",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_its_key(change, message):
    text = error(change)
    assert text.startswith(message) and "\n" not in text, text


def test_validate_stage_fails_on_a_typo_before_any_work(tmp_path):
    """`python -m stages.validate` (the first stage of every `dvc repro`): exit 1 with the one line, no
    traceback, and no marker written; a valid file writes the same marker every time."""
    p = copy.deepcopy(BASE)
    p["students"]["ircsn_kd"]["alhpa"] = 0.3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "stages.validate"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (
        run.returncode == 1
        and run.stderr.strip()
        == "validate: students.ircsn_kd.alhpa: unknown key (did you mean students.ircsn_kd.alpha?)"
    )
    assert not (tmp_path / "data").exists()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(BASE))
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-m", "stages.validate"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert (tmp_path / "data/params-validated.txt").read_text() == "params.yaml is valid\n"


def test_unreadable_params_file_is_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(SettingsError, match=r"^.*params.yaml: not valid YAML: ") as e:
        settings.load(tmp_path / "params.yaml")
    assert "\n" not in str(e.value)
    with pytest.raises(SettingsError, match="parameter file not found"):
        settings.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", [".", "..", ".partial", "a.b", "-x", "x/y", "superres", "x\n"])
def test_a_run_name_is_a_plain_folder_name_of_its_own(name):
    """A run names models/<run> (and publish replaces that folder): '.', '..', dotted names, paths and
    the SR generator's folder are refused."""
    text = error(lambda p: p["runs"].update({name: dict(p["runs"]["ircsn_lr"])}))
    assert text.startswith(f"runs.{name}: "), text
    assert ("another output of models/" if name == "superres" else "a run name starts with") in text


def test_run_names_with_dashes_and_underscores_pass():
    p = copy.deepcopy(BASE)
    p["runs"].update({"x-lr": dict(p["runs"]["ircsn_lr"]), "x_2": dict(p["runs"]["ircsn_lr"])})
    assert "x-lr" in settings.parse(p).run_names()
