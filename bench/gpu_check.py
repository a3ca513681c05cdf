"""The CUDA path, checked in one prepared run on one GPU, for a machine that has only Python 3.12, torch
(CUDA) and the packages of its image, and no package index:

1. ``smoke``: the paper configuration (profiles/paper.yaml, 1 GPU: CUDA, bf16 autocast, SR on the GPU)
   stage by stage in dvc.yaml's order, on a TinyVIRAT-v2-format root generated here and random-weight
   checkpoints in their published layouts (only counts shrink, as in the paper smoke run); ok when every
   stage ran and training, SR and scoring ran on the GPU in bf16;
2. ``resume``: one training run again, uninterrupted (``repeat``: byte-equal to the first, or by how much it
   differs), then killed once its first epoch is saved and resumed (``resume_vs_uninterrupted``);
3. ``bench``: bench/gpu_bench.py (RealBasicVSR forward and one training step of each paper backbone, fp32
   and bf16, rates and peak GPU memory).

Everything runs against one deadline (``--budget`` seconds, under the device's limit per command), and
the JSON (``--out``) is rewritten after every stage, so a cut loses only what was running; the stages'
output goes beside it (``<out>.log``). On this project's machines first:

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
CHECKED_RUN = "ircsn_lr"  # the run trained again (repeat) and killed and resumed (resume)
PROJECT_FILES = ["stages", "tinyactions", "profiles", "params.yaml", "dvc.yaml"]


class Deadline:
    """The seconds left of the whole check: every process gets at most what remains."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(self.end - time.monotonic(), 1.0)


class Report:
    """The results, rewritten whole (atomically) at every change."""

    def __init__(self, path: Path | None, result: dict):
        self.path, self.result = path, result

    def save(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(json.dumps(self.result, indent=2, default=str) + "\n")
            partial.replace(self.path)


def interpreter() -> list[str]:
    """This interpreter, with its -S when it was started so (as the dry-run test does)."""
    return [sys.executable, *(["-S"] if sys.flags.no_site else [])]


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
    from tinyactions.devtools.tiny_root import EPOCHS

    base = yaml.safe_load((repo / "params.yaml").read_text())
    p = load_profile("paper", {"data_root": str(root), "weights": str(weights), "gpus": 1}, base, repo / "profiles")
    p["execution"].update(batch_per_process=4, loader_workers=2, score_chunk=8, superres_batch=4)
    p["train"]["batch_size"] = 4
    p["thresholds"]["folds"] = 3
    trained = [*p["runs"], *p["students"]]
    for entry in [*p["runs"].values(), *p["students"].values()]:
        entry["epochs"] = EPOCHS
    p["ensemble"]["members"] = [f"{run}@{epoch}" for run in trained for epoch in ("best", "last")]
    if dry_run:  # a CPU: the demo's backbones, small frames; the official generator stays
        p["train"].update(preset="demo", input_size=32, pretrained={"ircsn": None, "uniformer": None})
        p["superres"].update(size=64, input="square")  # clips at 16 px into the official generator
    else:
        for backbone in ("ircsn", "uniformer"):
            zoo.write_checkpoint(backbone, p["train"]["pretrained"][backbone], seed=1234)
    zoo.write_checkpoint("realbasicvsr", p["superres"]["weights"], seed=1234)
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    validate(p)
    return p


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


def run_stage(repo: Path, args: list[str], env: dict, deadline: Deadline, log: Path) -> dict:
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ python -m {' '.join(args)}\n")
        out.flush()
        try:
            done = subprocess.run(
                [*interpreter(), "-m", *args],
                cwd=repo,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=deadline.left(),
            )
            rc = done.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return {"seconds": round(time.monotonic() - start, 1), "rc": rc}


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
    """Two runs' weights (every epoch, tensor by tensor) and per-epoch metrics: equal, or by how much.
    An epoch or tensor one run lacks counts as a difference."""
    import torch

    from tinyactions.core import checkpoint_io

    names = sorted({p.name for run in (a, b) for p in (run / "models").glob("epoch_*.pth")})
    epochs, worst, differing_total = {}, 0.0, 0
    for name in names:
        if not ((a / "models" / name).is_file() and (b / "models" / name).is_file()):
            epochs[name.removesuffix(".pth")] = {"in_both": False}
            differing_total += 1
            continue
        first = checkpoint_io.load(a / "models" / name)["state_dict"]
        second = checkpoint_io.load(b / "models" / name)["state_dict"]
        keys = set(first) | set(second)
        differing = [k for k in keys if k not in first or k not in second or not torch.equal(first[k], second[k])]
        gaps = [
            (first[k].double() - second[k].double()).abs().max()
            for k in differing
            if k in first and k in second and first[k].is_floating_point() and first[k].shape == second[k].shape
        ]
        largest = max((float(g) for g in gaps), default=0.0)
        epochs[name.removesuffix(".pth")] = {
            "in_both": True,
            "file_bytes_equal": (a / "models" / name).read_bytes() == (b / "models" / name).read_bytes(),
            "tensors": len(keys),
            "tensors_differing": len(differing),
            "max_abs_difference": largest,
        }
        worst, differing_total = max(worst, largest), differing_total + len(differing)
    metrics = sorted(
        {p.relative_to(run / "train") for run in (a, b) for p in (run / "train").rglob("*") if p.is_file()}
    )
    metric_files_equal = bool(metrics) and all(
        (a / "train" / rel).is_file()
        and (b / "train" / rel).is_file()
        and (a / "train" / rel).read_bytes() == (b / "train" / rel).read_bytes()
        for rel in metrics
    )
    return {
        "weights_equal": bool(names) and differing_total == 0,
        "max_abs_difference": worst,
        "metric_files_equal": metric_files_equal,
        "epochs": epochs,
    }


def kill_after_first_epoch(repo: Path, run: str, env: dict, deadline: Deadline, log: Path) -> dict:
    """Start ``stages.train run`` and kill its whole process group once epoch 1 is saved in its partial run
    (or when the deadline comes)."""
    start = time.monotonic()
    partial = repo / "models/.partial"
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
        while proc.poll() is None:
            saved = sorted(p.name for p in partial.glob(f"{run}-*/epoch_*.pth"))
            if (saved and list(partial.glob(f"{run}-*/last_checkpoint"))) or deadline.left() <= 1.0:
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


def made_on(record: dict, device: str) -> bool:
    """Whether a ``made_with`` record (device, precision) says: on ``device``, bf16 where it is a GPU."""
    return record.get("device", "").startswith(device) and (device == "cpu" or record.get("precision") == "bf16")


def step_smoke(ctx: dict, report: Report) -> dict:
    import pandas as pd

    from tinyactions.devtools.tiny_root import CLIPS, generate_root

    repo, work = ctx["repo"], ctx["work"]
    scratch_project(repo)
    root, weights = work / "TinyVIRAT_V2", work / "weights"
    generate_root(root, work / "hr-unused")
    p = paper_params(repo, root, weights, ctx["dry_run"])
    env = stage_env(ctx["site"], repo)
    outcome = {"ok": False, "stages": {}}
    report.result["steps"]["smoke"] = outcome
    for name, args in stage_commands(p):
        outcome["stages"][name] = run_stage(repo, args, env, ctx["deadline"], ctx["log"])
        report.save()
        if outcome["stages"][name]["rc"] != 0:
            outcome["failed"] = name
            return outcome
    runs = [*p["runs"], *p["students"]]
    outcome["answer_lines"] = len((repo / "submission/answer.txt").read_text().splitlines())
    outcome["superres_made_with"] = json.loads((repo / "data/manifests/sr.json").read_text())["made_with"]
    outcome["train_made_with"] = {
        r: json.loads((repo / "models" / r / "run.json").read_text())["made_with"] for r in runs
    }
    outcome["dump_made_with"] = {}
    for r in runs:
        attrs = pd.read_parquet(repo / "data/scores" / f"{r}.parquet").attrs
        outcome["dump_made_with"][r] = {k: attrs.get(k) for k in ("device", "precision")}
    device = "cpu" if ctx["dry_run"] else "cuda"
    records = [outcome["superres_made_with"], *outcome["train_made_with"].values(), *outcome["dump_made_with"].values()]
    outcome["on_the_device"] = all(made_on(r, device) for r in records)
    outcome["ok"] = outcome["answer_lines"] == CLIPS["test"] and outcome["on_the_device"]
    return outcome


def step_resume(ctx: dict, report: Report) -> dict:
    repo, work, deadline, log = ctx["repo"], ctx["work"], ctx["deadline"], ctx["log"]
    trained = report.result["steps"].get("smoke", {}).get("stages", {}).get(f"train@{CHECKED_RUN}", {})
    if trained.get("rc") != 0:
        return {"ok": False, "failed": f"train@{CHECKED_RUN} did not run in the smoke step"}
    env = stage_env(ctx["site"], repo)
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    set_aside(repo, CHECKED_RUN, runs / "first")
    outcome = {"ok": False, "run": CHECKED_RUN}
    report.result["steps"]["resume"] = outcome

    def train_to(label: str) -> bool:
        """Train the run to the end (resuming what it finds) and set its outputs aside as runs/<label>."""
        done = run_stage(repo, ["stages.train", CHECKED_RUN], env, deadline, log)
        outcome[f"{label}_seconds"] = done["seconds"]
        if done["rc"] != 0:
            outcome["failed"] = f"{label}: {done['rc']}"
            return False
        set_aside(repo, CHECKED_RUN, runs / label)
        return True

    if not train_to("repeat"):
        return outcome
    outcome["repeat"] = compare_runs(runs / "first", runs / "repeat")
    report.save()
    outcome["kill"] = kill_after_first_epoch(repo, CHECKED_RUN, env, deadline, log)
    if not train_to("resumed"):
        return outcome
    outcome["resume_vs_uninterrupted"] = compare_runs(runs / "repeat", runs / "resumed")
    outcome["resume_vs_first"] = compare_runs(runs / "first", runs / "resumed")
    kill = outcome["kill"]
    outcome["ok"] = (
        kill["killed"] and kill["saved_when_killed"] == ["epoch_1.pth"] and not kill["published_before_kill"]
    )
    return outcome


def step_bench(ctx: dict, report: Report) -> dict:
    out = ctx["work"] / "bench.json"
    args = ctx["args"]
    wheels = ["--no-wheels"] if args.no_wheels else ["--wheels", str(args.wheels), "--site", str(args.site)]
    try:
        done = subprocess.run(
            [
                *interpreter(),
                str(ROOT / "bench/gpu_bench.py"),
                *(["--dry-run"] * args.dry_run),
                "--out",
                str(out),
                *wheels,
            ],
            capture_output=True,
            text=True,
            timeout=ctx["deadline"].left(),
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "failed": "timeout"}
    if done.returncode != 0:
        return {"ok": False, "output": (done.stdout + done.stderr)[-3000:]}
    return {"ok": True, **json.loads(out.read_text())}


STEPS = {"smoke": step_smoke, "resume": step_resume, "bench": step_bench}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="the CPU, toy sizes: checks that every step runs")
    ap.add_argument("--out", type=Path, help="the results as JSON (rewritten after every stage); its .log beside it")
    ap.add_argument("--budget", type=float, default=480, help="seconds for the whole check (default: %(default)s)")
    ap.add_argument("--work", type=Path, default=ROOT / "data/gpu-check", help="scratch folder")
    ap.add_argument("--wheels", type=Path, default=WHEELS, help="folder of wheels (bench/gpu/prepare.sh)")
    ap.add_argument("--site", type=Path, default=SITE, help="where they are unpacked")
    ap.add_argument("--no-wheels", action="store_true", help="use this interpreter's packages (the project's venv)")
    ap.add_argument("--skip", nargs="*", default=[], choices=list(STEPS), help="steps to leave out")
    args = ap.parse_args()
    deadline = Deadline(args.budget)
    started = time.monotonic()
    if args.no_wheels:
        wheels, args.site = [], None
    else:
        wheels = unpack(args.wheels, args.site)
    sys.path[:0] = [*([str(args.site)] if args.site else []), str(ROOT)]
    import numpy
    import torch

    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        raise SystemExit("gpu check: no CUDA device visible; run with --dry-run on a CPU")
    if args.dry_run:  # every process of every step on the CPU
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = args.out.with_suffix(".log") if args.out else work / "stages.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    report = Report(
        args.out,
        {
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "dry_run": args.dry_run,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "numpy": numpy.__version__,
            "python": sys.version.split()[0],
            "wheels": len(wheels),
            "budget_seconds": args.budget,
            "steps": {},
        },
    )
    print(f"gpu check on {report.result['device']}: torch {torch.__version__}, numpy {numpy.__version__}", flush=True)
    ctx = {
        "args": args,
        "dry_run": args.dry_run,
        "work": work,
        "repo": work / "repo",
        "site": args.site,
        "log": log,
        "deadline": deadline,
    }
    for name, step in STEPS.items():
        if name in args.skip:
            continue
        start = time.monotonic()
        print(f"step {name} ...", flush=True)
        try:
            outcome = step(ctx, report)
        except Exception as e:  # noqa: BLE001  (the JSON records which step failed and how; the others still run)
            outcome = {**report.result["steps"].get(name, {}), "ok": False, "error": f"{type(e).__name__}: {e}"}
        outcome["step_seconds"] = round(time.monotonic() - start, 1)
        report.result["steps"][name] = outcome
        report.result["seconds"] = round(time.monotonic() - started, 1)
        report.save()
        print(f"step {name}: {'ok' if outcome.get('ok') else 'FAILED'} in {outcome['step_seconds']} s", flush=True)
    if not all(s.get("ok") for s in report.result["steps"].values()):
        print(log.read_text()[-4000:])
        raise SystemExit(1)
    print(json.dumps({k: v for k, v in report.result.items() if k != "steps"}, default=str))


if __name__ == "__main__":
    main()
