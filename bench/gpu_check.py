"""The CUDA path, checked in one prepared run on one GPU, for a machine that has only Python 3.12, torch
(CUDA) and the packages of its image, and no package index:

1. ``bench``: bench/gpu_bench.py (RealBasicVSR forward and one training step of each paper backbone,
   fp32 and bf16, rates and peak GPU memory);
2. ``smoke``: the paper configuration (profiles/paper.yaml, 1 GPU: CUDA, bf16 autocast, SR on the GPU)
   stage by stage in dvc.yaml's order, on a TinyVIRAT-v2-format root generated here and random-weight
   checkpoints in their published layouts (only counts shrink, as in the paper smoke run);
3. ``repeat``: one training run again, uninterrupted: byte-equal to the first, or by how much it differs;
4. ``resume``: the same run killed once its first epoch is saved, then resumed: equal to the uninterrupted
   run, or by how much it differs.

Each step's result goes into one JSON (``--out``) as soon as it ends, so a step cut by the machine's time
limit loses only itself. On this project's machines first:

    bash bench/gpu/prepare.sh                                   # what the GPU image lacks -> .gpu-wheels/
    .venv/bin/python bench/gpu_check.py --dry-run --no-wheels   # the same steps on this CPU, toy sizes

then on the GPU machine, carrying .gpu-wheels: ``python3 bench/gpu_check.py --out $OUT/gpu-check.json``.
The stages run as ``python -m stages.<name>`` in a scratch copy of the project (no DVC: the GPU machine
has none), with the unpacked wheels first on the path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gpu_bench import SITE, WHEELS, unpack

ROOT = Path(__file__).resolve().parents[1]
CLIPS = {"train": 6, "val": 6, "test": 3}
EPOCHS = 2
CHECKED_RUN = "ircsn_lr"  # the run trained again (repeat) and killed and resumed (resume)
PROJECT_FILES = ["stages", "tinyactions", "profiles", "params.yaml", "dvc.yaml"]


def interpreter() -> list[str]:
    """This interpreter, with its -S when it was started so (as the dry-run test does)."""
    return [sys.executable, *(["-S"] if sys.flags.no_site else [])]


def write_result(path: Path | None, result: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(result, indent=2, default=str) + "\n")
        partial.replace(path)


def scratch_project(repo: Path) -> None:
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, repo / name)


def paper_params(repo: Path, root: Path, weights: Path, dry_run: bool) -> dict:
    """profiles/paper.yaml for 1 GPU over the project's params, with the checkpoints it names written in
    their published layouts; only counts shrink (and, in a dry run on the CPU, the backbones and sizes)."""
    import yaml

    from tinyactions.app.profiles import load_profile, validate
    from tinyactions.devtools import zoo

    base = yaml.safe_load((repo / "params.yaml").read_text())
    p = load_profile("paper", {"data_root": str(root), "weights": str(weights), "gpus": 1}, base, repo / "profiles")
    p["execution"].update(batch_per_process=4, loader_workers=2, score_chunk=8, superres_batch=4)
    p["train"]["batch_size"] = 4
    p["thresholds"]["folds"] = 3
    trained = [*p["runs"], *p["students"]]
    for run in trained:
        (p["runs"] if run in p["runs"] else p["students"])[run]["epochs"] = EPOCHS
    p["ensemble"]["members"] = [f"{run}@{epoch}" for run in trained for epoch in ("best", "last")]
    if dry_run:  # a CPU: the demo's backbones, small frames; the official generator stays
        p["train"].update(preset="demo", input_size=32, pretrained={"ircsn": None, "uniformer": None})
        p["superres"].update(size=64, input="square")  # clips at 16 px into the official generator
    else:
        for name, key in (("ircsn", "ircsn"), ("uniformer", "uniformer")):
            zoo.write_checkpoint(name, p["train"]["pretrained"][key], seed=1234)
    zoo.write_checkpoint("realbasicvsr", p["superres"]["weights"], seed=1234)
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    validate(p)
    return p


def generate_root(root: Path, scratch: Path) -> None:
    from tinyactions.data.synth import generate
    from tinyactions.settings import Synth

    generate(
        Synth.model_validate(
            {
                "seed": 1,
                "videos": CLIPS,
                "hr_size": 128,
                "lr_size": {"min": 10, "max": 128, "median": 48},
                "frames": {"min": 6, "max": 24, "median": 12},
                "sources": {
                    "train": {"virat": 3, "meva": 1},
                    "val": {"virat": 2, "meva": 1},
                    "test": {"virat": 1, "meva": 0},
                },
            }
        ),
        root,
        scratch,
    )


def stage_commands(p: dict) -> list[tuple[str, list[str]]]:
    """The stages of dvc.yaml in an order its dependencies allow: (name as DVC shows it, module args)."""
    runs, students = list(p["runs"]), list(p["students"])
    return [
        *[(name, [f"stages.{name}"]) for name in ("validate", "synth", "prepare", "superres_fit", "superres")],
        *[(f"train@{r}", ["stages.train", r]) for r in runs],
        *[(f"dump@{r}", ["stages.dump", r]) for r in runs],
        *[(f"teacher@{s}", ["stages.teacher", s]) for s in students],
        *[(f"distill@{s}", ["stages.train", s]) for s in students],
        *[(f"dump_student@{s}", ["stages.dump", s]) for s in students],
        ("evaluate", ["stages.evaluate"]),
    ]


def run_stage(repo: Path, args: list[str], env: dict, timeout: float, log: Path) -> dict:
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ python -m {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(
            [*interpreter(), "-m", *args], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        )
    return {"seconds": round(time.monotonic() - start, 1), "rc": done.returncode}


def stage_env(site: Path | None, repo: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [*([str(site)] if site else []), str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["TINYACTIONS_PROGRESS_SECONDS"] = "5"
    return env


def run_outputs(repo: Path, run: str) -> list[Path]:
    return [repo / "models" / run, repo / "metrics/train" / run]


def set_aside(repo: Path, run: str, to: Path) -> None:
    """Move a finished run's outputs (and any partial run) out of the project, so that it trains anew."""
    to.mkdir(parents=True)
    for path in run_outputs(repo, run):
        shutil.move(path, to / path.parent.name)
    for partial in (repo / "models/.partial").glob(f"{run}-*"):
        shutil.rmtree(partial)


def compare_runs(a: Path, b: Path) -> dict:
    """Two runs' weights (every epoch, tensor by tensor) and per-epoch metrics: equal, or by how much."""
    import torch

    from tinyactions.core import checkpoint_io

    epochs, worst, tensors_differing = {}, 0.0, 0
    for path in sorted((a / "models").glob("epoch_*.pth")):
        first = checkpoint_io.load(path)["state_dict"]
        second = checkpoint_io.load(b / "models" / path.name)["state_dict"]
        differing = [k for k in first if not torch.equal(first[k], second[k])]
        gaps = [(first[k].double() - second[k].double()).abs().max() for k in differing if first[k].is_floating_point()]
        largest = max((float(g) for g in gaps), default=0.0)
        epochs[path.stem] = {
            "file_bytes_equal": path.read_bytes() == (b / "models" / path.name).read_bytes(),
            "tensors": len(first),
            "tensors_differing": len(differing),
            "max_abs_difference": largest,
        }
        worst, tensors_differing = max(worst, largest), tensors_differing + len(differing)
    metrics = sorted(p.relative_to(a / "train") for p in (a / "train").rglob("*") if p.is_file())
    metric_files_equal = all(
        (b / "train" / rel).is_file() and (a / "train" / rel).read_bytes() == (b / "train" / rel).read_bytes()
        for rel in metrics
    )
    return {
        "weights_equal": tensors_differing == 0,
        "max_abs_difference": worst,
        "metric_files_equal": metric_files_equal,
        "epochs": epochs,
    }


def kill_after_first_epoch(repo: Path, run: str, env: dict, timeout: float, log: Path) -> dict:
    """Start ``stages.train run`` and kill its whole process group once epoch 1 is saved in its partial run."""
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ python -m stages.train {run}   (killed after epoch 1)\n")
        out.flush()
        proc = subprocess.Popen(
            [*interpreter(), "-m", "stages.train", run],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        saved = []
        while proc.poll() is None and time.monotonic() - start < timeout:
            saved = sorted(p.name for p in (repo / "models/.partial").glob(f"{run}-*/epoch_*.pth"))
            marker = list((repo / "models/.partial").glob(f"{run}-*/last_checkpoint"))
            if saved and marker:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        proc.wait()
    return {
        "killed": proc.returncode == -signal.SIGKILL,
        "saved_when_killed": saved,
        "published_before_kill": (repo / "models" / run).is_dir(),
        "seconds": round(time.monotonic() - start, 1),
    }


def step_smoke(repo: Path, work: Path, site: Path, dry_run: bool, log: Path) -> dict:
    root, weights = work / "TinyVIRAT_V2", work / "weights"
    generate_root(root, work / "hr-unused")
    p = paper_params(repo, root, weights, dry_run)
    env = stage_env(site, repo)
    stages = {}
    for name, args in stage_commands(p):
        stages[name] = run_stage(repo, args, env, 1800, log)
        if stages[name]["rc"] != 0:
            return {"ok": False, "failed": name, "stages": stages}
    import pandas as pd

    answer = (repo / "submission/answer.txt").read_text().splitlines()
    made = json.loads((repo / "data/manifests/sr.json").read_text())["made_with"]
    runs = [*p["runs"], *p["students"]]
    trained = {r: json.loads((repo / "models" / r / "run.json").read_text())["made_with"] for r in runs}
    dumped = {}
    for r in runs:
        attrs = pd.read_parquet(repo / "data/scores" / f"{r}.parquet").attrs
        dumped[r] = {k: attrs.get(k) for k in ("device", "precision")}
    return {
        "ok": len(answer) == CLIPS["test"],
        "stages": stages,
        "answer_lines": len(answer),
        "superres_made_with": made,
        "train_made_with": trained,
        "dump_made_with": dumped,
    }


def step_repeat_and_resume(repo: Path, work: Path, site: Path, log: Path) -> dict:
    env = stage_env(site, repo)
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    set_aside(repo, CHECKED_RUN, runs / "first")
    again = run_stage(repo, ["stages.train", CHECKED_RUN], env, 1800, log)
    if again["rc"] != 0:
        return {"ok": False, "failed": "train again", **again}
    set_aside(repo, CHECKED_RUN, runs / "repeat")
    killed = kill_after_first_epoch(repo, CHECKED_RUN, env, 1800, log)
    resumed = run_stage(repo, ["stages.train", CHECKED_RUN], env, 1800, log)
    if resumed["rc"] != 0:
        return {"ok": False, "failed": "resume", "kill": killed, **resumed}
    set_aside(repo, CHECKED_RUN, runs / "resumed")
    return {
        "ok": True,
        "run": CHECKED_RUN,
        "train_seconds": again["seconds"],
        "repeat": compare_runs(runs / "first", runs / "repeat"),
        "kill": killed,
        "resume_seconds": resumed["seconds"],
        "resume_vs_uninterrupted": compare_runs(runs / "repeat", runs / "resumed"),
        "resume_vs_first": compare_runs(runs / "first", runs / "resumed"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="the CPU, toy sizes: checks that every step runs")
    ap.add_argument("--out", type=Path, help="the results as JSON (written after each step)")
    ap.add_argument("--work", type=Path, default=ROOT / "data/gpu-check", help="scratch folder")
    ap.add_argument("--wheels", type=Path, default=WHEELS, help="folder of wheels (bench/gpu/prepare.sh)")
    ap.add_argument("--site", type=Path, default=SITE, help="where they are unpacked")
    ap.add_argument("--no-wheels", action="store_true", help="use this interpreter's packages (the project's venv)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["bench", "smoke", "resume"], help="steps to leave out")
    args = ap.parse_args()
    started = time.monotonic()
    if args.no_wheels:
        wheels, args.site = [], None
    else:
        wheels = unpack(args.wheels, args.site)
    sys.path[:0] = [*([str(args.site)] if args.site else []), str(ROOT)]
    import numpy
    import torch

    cuda = torch.cuda.is_available() and not args.dry_run
    result = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "dry_run": args.dry_run,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
        "wheels": len(wheels),
        "steps": {},
    }
    print(f"gpu check on {result['device']}: torch {torch.__version__}, numpy {numpy.__version__}", flush=True)
    if not cuda and not args.dry_run:
        raise SystemExit("no CUDA device visible: run with --dry-run on a CPU")
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "stages.log"
    if args.dry_run:  # every process of every step on the CPU
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    steps = {
        "bench": lambda: bench(args, work),
        "smoke": lambda: step_smoke(work / "repo", work, args.site, args.dry_run, log),
        "resume": lambda: step_repeat_and_resume(work / "repo", work, args.site, log),
    }
    for name, step in steps.items():
        if name in args.skip or (name == "resume" and not result["steps"].get("smoke", {}).get("ok")):
            continue
        start = time.monotonic()
        print(f"step {name} ...", flush=True)
        if name != "bench" and not (work / "repo").is_dir():
            scratch_project(work / "repo")
        try:
            outcome = step()
        except Exception as e:  # noqa: BLE001  (the JSON records which step failed and how; the others still run)
            outcome = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        outcome["step_seconds"] = round(time.monotonic() - start, 1)
        result["steps"][name] = outcome
        result["seconds"] = round(time.monotonic() - started, 1)
        write_result(args.out, result)
        print(f"step {name}: {'ok' if outcome.get('ok') else 'FAILED'} in {outcome['step_seconds']} s", flush=True)
    tail = log.read_text()[-4000:] if log.is_file() else ""
    if not all(s.get("ok") for s in result["steps"].values()):
        result["log_tail"] = tail
        write_result(args.out, result)
        print(tail)
        raise SystemExit(1)
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}, default=str))


def bench(args, work: Path) -> dict:
    out = work / "bench.json"
    wheels = ["--no-wheels"] if args.no_wheels else ["--wheels", str(args.wheels), "--site", str(args.site)]
    done = subprocess.run(
        [*interpreter(), str(ROOT / "bench/gpu_bench.py"), *(["--dry-run"] * args.dry_run), "--out", str(out), *wheels],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        return {"ok": False, "output": (done.stdout + done.stderr)[-3000:]}
    return {"ok": True, **json.loads(out.read_text())}


if __name__ == "__main__":
    main()
