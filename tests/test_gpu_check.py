"""The CUDA path's prepared check (bench/gpu_check.py), run on the CPU: its stages are dvc.yaml's, its
comparison of two runs finds a difference, and the whole check (--dry-run) passes in an interpreter that
sees only torch, numpy 2, the GPU image's packages and the carried wheels, as on the GPU machine."""

import json
import re
import sys

import pytest
import torch
import yaml

from tests.gpu_image import HERE, ROOT, pinned, prepare, run_as_on_the_gpu_machine
from tinyactions.devtools.tiny_root import CLIPS

sys.path.insert(0, str(ROOT / "bench"))
import gpu_check  # noqa: E402


def paper_runs() -> dict:
    return yaml.safe_load((ROOT / "profiles/paper.yaml").read_text())


def dvc_stages(p: dict) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """dvc.yaml's stages for the runs of ``p``, as DVC names them: (deps, outs, command) of each, with
    ``${key}``, ``${item.*}`` and ``${data.root}`` (the demo's, where synth writes) resolved."""
    data_root = yaml.safe_load((ROOT / "params.yaml").read_text())["data"]["root"]
    found = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        items = {None: {}}
        if "foreach" in stage:
            items = p["runs"] if stage["foreach"] == "${runs}" else p["students"]
        body = stage.get("do", stage)
        for key, item in items.items():

            def resolve(text: str) -> str:
                text = text.replace("${key}", key or "").replace("${data.root}", data_root)
                return re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)

            def paths(entries):
                return [resolve(str(e if isinstance(e, str) else next(iter(e)))).rstrip("/") for e in entries]

            command = resolve(body["cmd"]).split()
            assert command[:2] == ["python", "-m"], command
            label = f"{name}@{key}" if key else name
            found[label] = (paths(body.get("deps", [])), paths(body.get("outs", [])), command[2:])
    return found


def misordered(names: list[str], stages: dict) -> list[tuple[str, str]]:
    """(stage, later stage) pairs where the stage reads what the later one writes (a path or one inside
    the other)."""
    found = []
    for i, name in enumerate(names):
        for later in names[i + 1 :]:
            if any(
                d == o or d.startswith(o + "/") or o.startswith(d + "/")
                for d in stages[name][0]
                for o in stages[later][1]
            ):
                found.append((name, later))
    return found


def test_the_check_runs_every_stage_of_dvc_yaml_in_an_order_its_dependencies_allow():
    p = paper_runs()
    stages = dvc_stages(p)
    commands = gpu_check.stage_commands(p)
    names = [name for name, _ in commands]
    assert sorted(names) == sorted(stages) and len(names) == len(set(names))
    assert "models/ircsn_sr" in stages["teacher@ircsn_kd"][0]  # dvc.yaml's ${item.teacher}, resolved
    assert misordered(names, stages) == []
    assert {name: args for name, args in commands} == {name: stage[2] for name, stage in stages.items()}
    # the rule sees a misordering: evaluate before the dumps, prepare before synth
    for moved, before in (("evaluate", "dump@ircsn_lr"), ("synth", "prepare")):
        wrong = [n for n in names if n != moved]
        wrong.insert(wrong.index(before) + (moved == "synth"), moved)
        assert misordered(wrong, stages), (moved, before)


def test_comparing_two_runs_names_the_largest_difference(tmp_path):
    def run(folder, bias):
        (folder / "models").mkdir(parents=True)
        (folder / "train").mkdir()
        for epoch in (1, 2):
            state = {"w": torch.ones(3), "b": torch.tensor([bias if epoch == 2 else 0.0]), "n": torch.tensor(3)}
            torch.save({"meta": {"epoch": epoch}, "state_dict": state}, folder / "models" / f"epoch_{epoch}.pth")
        (folder / "train/metrics.json").write_text(json.dumps({"loss": 1.0 + bias}))

    run(tmp_path / "a", 0.0)
    run(tmp_path / "same", 0.0)
    run(tmp_path / "other", 0.25)
    same = gpu_check.compare_runs(tmp_path / "a", tmp_path / "same")
    assert same["weights_equal"] and same["metric_files_equal"] and same["max_abs_difference"] == 0.0
    other = gpu_check.compare_runs(tmp_path / "a", tmp_path / "other")
    assert not other["weights_equal"] and not other["metric_files_equal"]
    assert other["max_abs_difference"] == 0.25
    assert other["epochs"]["epoch_1"]["tensors_differing"] == 0 and other["epochs"]["epoch_2"]["tensors_differing"] == 1


@pytest.mark.slow
def test_the_check_passes_as_the_gpu_machine_would_run_it(tmp_path, gpu_image):
    prepare(HERE, str(tmp_path / "wheels"))
    out = tmp_path / "check.json"
    run = run_as_on_the_gpu_machine(
        gpu_image,
        tmp_path,
        "bench/gpu_check.py",
        "--dry-run",
        "--out",
        str(out),
        "--work",
        str(tmp_path / "work"),
        "--wheels",
        str(tmp_path / "wheels"),
        "--site",
        str(tmp_path / "unpacked"),
        timeout=1500,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert re.fullmatch(r"2\.\d+\.\d+", result["numpy"]) and result["wheels"] == len(pinned("wheels.txt"))
    steps = result["steps"]
    assert set(steps) == {"bench", "smoke", "resume"} and all(s["ok"] for s in steps.values())
    smoke = steps["smoke"]
    assert [n for n, _ in gpu_check.stage_commands(paper_runs())] == list(smoke["stages"])
    assert all(s["rc"] == 0 for s in smoke["stages"].values()) and smoke["answer_lines"] == CLIPS["test"]
    # SR, every training and every score table made where the check runs (on a GPU: cuda, bf16)
    assert smoke["on_the_device"] and smoke["superres_made_with"]["device"] == "cpu"
    assert {m["device"] for m in [*smoke["train_made_with"].values(), *smoke["dump_made_with"].values()]} == {"cpu"}
    resume = steps["resume"]
    # killed once epoch 1 was saved and before the run was published, then resumed
    assert resume["kill"]["killed"] and resume["kill"]["saved_when_killed"] == ["epoch_1.pth"]
    assert not resume["kill"]["published_before_kill"]
    # on the CPU, a repeat and a resume give the same bytes (what the GPU's numbers are compared with)
    for key in ("repeat", "resume_vs_uninterrupted"):
        assert resume[key]["weights_equal"] and resume[key]["metric_files_equal"], (key, resume[key])
        assert all(e["file_bytes_equal"] for e in resume[key]["epochs"].values()), (key, resume[key])
