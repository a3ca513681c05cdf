"""Does each component of the method work on data built for it? Controls and components over seeds.

    PATH=$PWD/.venv/bin:$PATH python bench/demo_signal.py             # after `make repro`; 3 seeds
    PATH=$PWD/.venv/bin:$PATH python bench/demo_signal.py --seeds 0   # one seed

Every run trains 12 epochs (``--epochs``; the demo's runs 6, to keep `make repro` within 15 minutes):
at 6 the networks are still learning the coarse classes and the clean renders' run is barely ahead on
the detail classes (bench/README.md has the numbers).

Pipeline checks on the generated demo, not the paper's numbers. For each seed k (data: synth.seed = k,
training: train.seed = k) a scratch workspace data/bench/demo_signal/seed_k_epochs12 runs the pipeline's
own synth, prepare and superres stages (the generator fitted by `make repro` on seed 0's data is reused:
the degradation it inverts is the same on every seed), then trains ir-CSN runs that differ from the
low-res run (params.yaml's runs.ircsn_lr) in one thing each:

    controls, whose answer is known before measuring (synth.DETAIL_CLASSES, synth.TAIL_CLASSES):
      hr        the clean renders (the ceiling): must beat lr on the detail classes
      bicubic   super-resolution replaced by bicubic upscaling, same storage: must not differ from lr
      kd_self   distillation from the student's own low-res run: must not differ from lr
      notail    as many flipped copies as balance adds, of videos without a tail class: no tail gain
    components:
      sr        super-resolved input (train.input_size as every run)
      kd        distillation from sr (students.ircsn_kd's alpha and teacher epoch)
      kd_hr     distillation from hr, a teacher that knows more than the student: what KD can pass on
      nobal     no balance copies (lr has them): balance's effect on the tail classes
      dense     dense sampling, no balance: uniform vs dense

Every run is scored at every epoch on val (lr, sr and kd on test too, for the workspace's evaluate);
runs compare at their last epoch (not chosen on val). The workspace's evaluate (tinyactions.decide.evaluate,
the evaluate stage's code) then measures the decision rule on an ensemble of the lr, sr and kd runs
(best and last epochs: 6 members): ensemble + thresholds vs the single best, frequency-ordered thresholds
vs one flat threshold, thresholds vs 0.5, post-processing vs none and by margin vs by top score,
cross-validated. Runs compare at mAP and at the F1 of the workspace's threshold rule fitted inside the
folds for each run (never at F1 at 0.5), through the evaluate stage's own comparison functions
(tinyactions.decide.comparisons), each with the smallest difference its val could detect.

Each effect is a paired difference with its 95% bootstrap interval over val's source videos (the same
resamples for both sides) per seed, and the mean over seeds. Prints one markdown table; writes it and
every number to data/bench/demo_signal/summary_epochs12.{md,json}. A seed's finished runs are kept: a rerun
continues where a killed one stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyactions import settings  # noqa: E402
from tinyactions.challenge.annotations import CLASSES  # noqa: E402
from tinyactions.challenge.metrics import average_precision  # noqa: E402
from tinyactions.core.files import write_json, write_table, write_text  # noqa: E402
from tinyactions.core.paths import REPO  # noqa: E402
from tinyactions.data.index import add_balance_copies, originals, truth  # noqa: E402
from tinyactions.data.synth import DETAIL_CLASSES, TAIL_CLASSES  # noqa: E402
from tinyactions.decide import comparisons, crossval  # noqa: E402
from tinyactions.decide.folds import grouped_folds  # noqa: E402
from tinyactions.decide.intervals import Bootstrap  # noqa: E402

OUT = ROOT / "data/bench/demo_signal"
DETAIL = [CLASSES.index(c) for c in DETAIL_CLASSES]
TAIL = [CLASSES.index(c) for c in TAIL_CLASSES]
EVERY = list(range(len(CLASSES)))
# (comparison, run a, run b, metric, classes, kind): kind says what the interval must do
RUN_CONTRASTS = (
    ("HR vs LR (positive control)", "hr", "lr", "mAP", "detail", "above 0"),
    ("HR vs LR, every class (positive control)", "hr", "lr", "mAP", "all", "above 0"),
    ("SR vs LR", "sr", "lr", "mAP", "detail", "component"),
    ("SR vs LR, every class", "sr", "lr", "mAP", "all", "component"),
    ("bicubic vs LR (negative control)", "bicubic", "lr", "mAP", "detail", "includes 0"),
    ("SR vs bicubic (the generator itself)", "sr", "bicubic", "mAP", "detail", "component"),
    ("KD vs LR", "kd", "lr", "mAP", "all", "component"),
    ("KD vs LR, F1", "kd", "lr", "F1", "all", "component"),
    ("KD from the clean renders' run vs LR (a teacher that knows more)", "kd_hr", "lr", "mAP", "all", "component"),
    ("KD from the clean renders' run vs LR", "kd_hr", "lr", "mAP", "detail", "component"),
    ("self-KD vs LR (negative control)", "kd_self", "lr", "mAP", "all", "includes 0"),
    ("balance vs none", "lr", "nobal", "mAP", "tail", "component"),
    ("balance vs none, F1", "lr", "nobal", "F1", "tail", "component"),
    ("copies without a tail class vs none (negative control)", "notail", "nobal", "mAP", "tail", "includes 0"),
    ("uniform vs dense sampling", "nobal", "dense", "mAP", "all", "component"),
)
# the workspace evaluate's cross-validated comparisons (tinyactions.decide.evaluate.RULE_CONTRASTS)
RULE_CONTRASTS = (
    ("ensemble + thresholds vs single best", "ensemble vs single best"),
    ("frequency-ordered thresholds vs one flat threshold", "frequency-ordered thresholds vs one flat threshold"),
    ("fitted thresholds vs 0.5", "thresholds vs 0.5"),
    ("post-processing vs none", "post-processing (all groups) vs none"),
    (
        "post-processing keeping the largest margin over threshold vs the top score",
        "post-processing keeping the largest margin vs the top score",
    ),
)
CLASS_SETS = {"detail": DETAIL, "tail": TAIL, "all": EVERY}


def stage(workspace: Path, name: str) -> None:
    """One of the pipeline's own stages, run in the workspace (its params.yaml, its data)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", f"stages.{name}"], cwd=workspace, env=env, check=True)
    print(f"  {name}: {time.monotonic() - started:.0f} s", flush=True)


def variant(input_size: int | None, epochs: int | None) -> str:
    """The suffix naming a workspace and a summary made with another input size or epoch count."""
    return (f"_size{input_size}" if input_size else "") + (f"_epochs{epochs}" if epochs else "")


def workspace_params(base: dict, seed: int, input_size: int | None = None, epochs: int | None = None) -> dict:
    """params.yaml of seed ``seed``'s workspace: the demo's, with the seed's data and training seed (and
    another ``train.input_size`` when given), and the lr, sr and kd runs as the ensemble (the rule's
    comparisons need a pipeline of legal runs)."""
    p = json.loads(json.dumps(base))
    p["synth"]["seed"] = p["train"]["seed"] = seed
    if input_size:
        p["train"]["input_size"] = input_size
    p["runs"] = {"ircsn_lr": base["runs"]["ircsn_lr"], "ircsn_sr": base["runs"]["ircsn_sr"]}
    p["students"] = {"ircsn_kd": base["students"]["ircsn_kd"]}
    if epochs:  # every run and the student train this long
        for entry in (p["runs"]["ircsn_lr"], p["runs"]["ircsn_sr"], p["students"]["ircsn_kd"]):
            entry["epochs"] = epochs
    p["ensemble"]["members"] = [f"{r}@{e}" for r in ("ircsn_lr", "ircsn_sr", "ircsn_kd") for e in ("best", "last")]
    p["ensemble"]["weights"] = None
    p["ensemble"]["ablation_runs"] = []
    p["ensemble"]["greedy"]["enabled"] = False
    return p


def prepare_data(workspace: Path, params: dict) -> None:
    """Synth, prepare and superres in the workspace (skipped when done), the generator of the demo. A
    workspace made with other params is emptied first: nothing of it is reused."""
    text = yaml.safe_dump(params, sort_keys=False)
    if (workspace / "params.yaml").is_file() and (workspace / "params.yaml").read_text() != text:
        print(f"  {workspace.name}: params changed, starting over", flush=True)
        shutil.rmtree(workspace)  # the shared SR cache is a symlink: removed, not followed
    workspace.mkdir(parents=True, exist_ok=True)
    write_text(workspace / "params.yaml", text)
    done = workspace / "data/manifests/sr.json"
    if done.is_file():
        return
    generator = workspace / REPO.generator
    generator.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / REPO.generator, generator)
    cache = workspace / REPO.superres_cache  # content-addressed: shared with the demo's
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        (ROOT / REPO.superres_cache).mkdir(parents=True, exist_ok=True)
        cache.symlink_to(ROOT / REPO.superres_cache)
    for name in ("validate", "synth", "prepare", "superres"):
        stage(workspace, name)


def bicubic_root(s: settings.Settings) -> str:
    """Every readable video upscaled as superres does, with bicubic instead of the generator, and stored
    with the same codec: the negative control of super-resolution."""
    from tinyactions.data.video import read_video, write_video
    from tinyactions.superres.network import GeneratorSpec, build_generator
    from tinyactions.superres.upscale import Upscaler

    root = Path("data/bicubic")
    marker = root / "done.txt"
    if marker.is_file():
        return str(root)
    up = Upscaler(
        build_generator(GeneratorSpec(**s.superres.generator.model_dump())),
        s.superres.size,
        s.superres.window,
        s.superres.overlap,
        1,
        s.superres.input,
        "cpu",
        precision="fp32",
    )
    for split in ("train", "val", "test"):
        for rel in originals(pd.read_parquet(REPO.index(split))).query("readable")["path"]:
            frames = up.bicubic(read_video(Path(s.data.root) / rel))
            write_video(root / rel, frames, codec=s.superres.storage)
    write_text(marker, "done\n")
    return str(root)


def score(spec, root: str, s: settings.Settings, splits=("val", "test")) -> pd.DataFrame:
    """Every epoch of a finished run scored on ``splits`` as dump does, kept in data/scores."""
    from tinyactions.score.dump import score_split

    out = REPO.scores(spec.name)
    if out.is_file():
        return pd.read_parquet(out)
    checkpoints = {e: REPO.checkpoint(spec.name, e) for e in range(1, spec.epochs + 1)}
    tables = [
        score_split(
            spec,
            checkpoints,
            pd.read_parquet(REPO.index(split)),
            root,
            split,
            s.dump.views,
            s.execution.score_chunk,
            s.dump.precision,
        )
        for split in splits
    ]
    table = pd.concat(tables, ignore_index=True)
    table.attrs = tables[0].attrs
    write_table(out, table)
    return table


def no_tail_balance(index: pd.DataFrame, s: settings.Settings, seed: int) -> pd.DataFrame:
    """The train index with as many flipped copies as the real balance adds, of videos that carry no tail
    class: the same extra samples and flips, for the wrong classes (the balance control)."""
    base = originals(index)
    flipped = add_balance_copies(base, list(CLASSES), s.balance.copies, s.balance.mirrored_labels)
    flipped = flipped[flipped["flip"]]
    flipped = flipped[~flipped[[f"y_{c}" for c in TAIL_CLASSES]].to_numpy().any(axis=1)]
    chosen = flipped.sample(n=min(int(index["flip"].sum()), len(flipped)), random_state=seed).sort_index()
    return pd.concat([base, chosen], ignore_index=True)


def train_and_score(
    spec, root: str, train_index: Path, s: settings.Settings, teacher: Path | None = None
) -> pd.DataFrame:
    """A run trained and scored on val (and test for the workspace pipeline's runs, whose answer.txt its
    evaluate writes)."""
    from tinyactions.train.run import train

    if not REPO.scores(spec.name).is_file():
        started = time.monotonic()
        train(
            spec,
            REPO.models,
            REPO.train_metrics,
            REPO.train_logs,
            str(train_index),
            str(REPO.index("val")),
            root,
            teacher_file=str(teacher) if teacher else None,
            workers=s.execution.loader_workers,
        )
        print(f"  train {spec.name}: {time.monotonic() - started:.0f} s", flush=True)
    return score(spec, root, s, ("val", "test") if spec.name in s.run_names() else ("val",))


def teacher_scores(spec, root: str, student: str, s: settings.Settings) -> Path:
    """The teacher stage's table for ``student``: ``spec``'s checkpoint at students.ircsn_kd.teacher_epoch
    (resolved on its val scores as the stage does) on the training samples of ``root``."""
    from tinyactions.score.best_epoch import resolve
    from tinyactions.score.dump import score_split
    from tinyactions.score.member import Member

    out = REPO.teacher_scores(student)
    if not out.is_file():
        ids, labels = truth(pd.read_parquet(REPO.index("val")))
        rule = Member(spec.name, str(s.students["ircsn_kd"].teacher_epoch))
        epoch = resolve(rule, score(spec, root, s), ids, labels, s.best_by, "students.ircsn_kd.teacher_epoch")
        table = score_split(
            spec,
            {epoch: REPO.checkpoint(spec.name, epoch)},
            pd.read_parquet(REPO.index("train")),
            root,
            "train",
            s.dump.views,
            s.execution.score_chunk,
            s.dump.precision,
        )
        write_table(out, table)
    return out


def run_seed(seed: int, base: dict, input_size: int | None = None, epochs: int | None = None) -> dict:
    """Train, score and compare every run of one seed; returns {comparison: {difference, ci}}."""
    workspace = OUT / f"seed_{seed}{variant(input_size, epochs)}"
    prepare_data(workspace, workspace_params(base, seed, input_size, epochs))
    os.chdir(workspace)
    s = settings.load()
    lr = s.run_spec("ircsn_lr")
    roots = {"lr": s.data.root, "sr": str(REPO.superres), "hr": str(REPO.synth_hr), "bicubic": bicubic_root(s)}
    train_index = REPO.index("train")
    plain = REPO.prepared / "train_no_tail_balance.parquet"
    if not plain.is_file():
        write_table(plain, no_tail_balance(pd.read_parquet(train_index), s, seed))
    student = s.run_spec("ircsn_kd")
    specs = {
        "lr": (lr, "lr", train_index),
        "sr": (s.run_spec("ircsn_sr"), "sr", train_index),
        "hr": (dataclasses.replace(lr, name="ircsn_hr"), "hr", train_index),
        "bicubic": (dataclasses.replace(lr, name="ircsn_bicubic"), "bicubic", train_index),
        "nobal": (dataclasses.replace(lr, name="ircsn_lr_nobal", balance=False), "lr", train_index),
        "notail": (dataclasses.replace(lr, name="ircsn_lr_notail"), "lr", plain),
        "dense": (
            dataclasses.replace(lr, name="ircsn_lr_dense", balance=False, sampling="dense"),
            "lr",
            train_index,
        ),
    }
    tables = {}
    for key in ("lr", "sr", "hr", "bicubic", "nobal", "notail", "dense"):
        spec, kind, index = specs[key]
        tables[key] = train_and_score(spec, roots[kind], index, s)
    # students: from the SR run (the method) and from the low-res run itself (the control)
    teacher = teacher_scores(specs["sr"][0], roots["sr"], "ircsn_kd", s)
    tables["kd"] = train_and_score(student, roots["lr"], train_index, s, teacher)
    own = dataclasses.replace(student, name="ircsn_kd_self")
    teacher = teacher_scores(lr, roots["lr"], "ircsn_kd_self", s)
    tables["kd_self"] = train_and_score(own, roots["lr"], train_index, s, teacher)
    # and from the clean renders' run, a teacher that knows more than the student (what KD can pass on)
    informed = dataclasses.replace(student, name="ircsn_kd_hr")
    teacher = teacher_scores(specs["hr"][0], roots["hr"], "ircsn_kd_hr", s)
    tables["kd_hr"] = train_and_score(informed, roots["lr"], train_index, s, teacher)

    val = pd.read_parquet(REPO.index("val"))
    ids, labels = truth(val)
    videos = val.loc[~val["flip"], "video_id"].to_numpy()
    boot = Bootstrap.over(videos, s.intervals.draws, s.intervals.seed, s.intervals.level, s.intervals.method)
    stats = json.loads(REPO.stats.read_text())
    rule = crossval.Rule(  # the workspace's threshold rule, fitted inside the folds for each run
        members=[],
        weights=None,
        config=s.thresholds,
        freq=np.array([stats["class_counts"]["train"][c] for c in CLASSES], float) / stats["videos"]["train"],
        groups=[],
        apply=False,
        keep=s.postprocess.keep,
        best_by=s.best_by,
    )
    folds = grouped_folds(labels, videos, s.thresholds.folds, s.thresholds.seed)

    def last(t: pd.DataFrame) -> np.ndarray:
        t = t[(t["split"] == "val") & (t["epoch"] == t["epoch"].max())].set_index("id").loc[ids]
        return np.nan_to_num(t[[f"s_{c}" for c in CLASSES]].to_numpy(float), nan=0.0)

    scores = {key: last(t) for key, t in tables.items()}  # each run's val scores at its last epoch
    out = {}
    for name, a, b, metric, classes, _ in RUN_CONTRASTS:  # the evaluate stage's comparisons, on class sets
        found = comparisons.runs(boot, labels, scores[a], scores[b], rule, folds, CLASS_SETS[classes])
        out[name] = found["mAP" if metric == "mAP" else comparisons.F1_FOLDS]

    from tinyactions.decide.evaluate import chance_map, evaluate

    board = evaluate(s, REPO)
    for name, key in RULE_CONTRASTS:
        found = board["comparisons"][key]
        out[name] = found
    out["_chance_mAP"] = {
        "all": chance_map(labels[:, EVERY]),
        "detail": chance_map(labels[:, DETAIL]),
        "tail": chance_map(labels[:, TAIL]),
    }
    out["_val_sources"] = int(len(set(videos)))
    out["_runs"] = {  # each run's own numbers at its last epoch, beside chance
        key: {name: _map(labels, v, cols) for name, cols in CLASS_SETS.items()} for key, v in scores.items()
    }
    out["_thresholds_cv"] = {k: v["cv"] for k, v in board["ensemble"]["strategies"].items()}
    os.chdir(ROOT)
    return out


def _map(labels: np.ndarray, scores: np.ndarray, cols: list[int]) -> float:
    return float(np.nanmean(average_precision(labels[:, cols], scores[:, cols])))


def verdict(kind: str, per_seed: list[dict]) -> str:
    """Did a control behave? above 0: every seed's interval above 0; includes 0: every seed's does."""
    if kind == "above 0":
        return "behaves" if all(r["ci"]["lo"] > 0 for r in per_seed) else "**does not behave**"
    if kind == "includes 0":
        return "behaves" if all(r["ci"]["lo"] <= 0 <= r["ci"]["hi"] for r in per_seed) else "**does not behave**"
    if all(r["ci"]["lo"] > 0 for r in per_seed):
        return "helps"
    if all(r["ci"]["hi"] < 0 for r in per_seed):
        return "hurts"
    smallest = np.mean([r["smallest_detectable"] for r in per_seed])
    return f"not detectable at this size (smallest detectable {smallest:.3f})"


def table(results: dict[int, dict]) -> str:
    seeds = sorted(results)
    head = "| comparison | metric | " + " | ".join(f"seed {k}" for k in seeds) + " | mean | reading |"
    lines = [head, "|" + "---|" * (len(seeds) + 4)]
    kinds = {
        name: ("mAP" if metric == "mAP" else comparisons.F1_FOLDS, classes, kind)
        for name, _, _, metric, classes, kind in RUN_CONTRASTS
    }
    kinds.update({name: ("F1 cross-validated", "all", "component") for name, _ in RULE_CONTRASTS})
    for name, (metric, classes, kind) in kinds.items():
        rows = [results[k][name] for k in seeds]
        cells = [f"{r['difference']:+.3f} [{r['ci']['lo']:+.3f}, {r['ci']['hi']:+.3f}]" for r in rows]
        mean = np.mean([r["difference"] for r in rows])
        lines.append(
            f"| {name} | {metric} ({classes}) | " + " | ".join(cells) + f" | {mean:+.3f} | {verdict(kind, rows)} |"
        )
    chance = " / ".join(
        f"seed {k}: all {results[k]['_chance_mAP']['all']:.3f}, detail {results[k]['_chance_mAP']['detail']:.3f}, "
        f"tail {results[k]['_chance_mAP']['tail']:.3f} ({results[k]['_val_sources']} val sources)"
        for k in seeds
    )
    runs = ["| run | " + " | ".join(f"seed {k}: all / detail / tail" for k in seeds) + " |"]
    runs.append("|" + "---|" * (len(seeds) + 1))
    for key in results[seeds[0]]["_runs"]:
        cells = [" / ".join(f"{results[k]['_runs'][key][c]:.3f}" for c in ("all", "detail", "tail")) for k in seeds]
        runs.append(f"| {key} | " + " | ".join(cells) + " |")
    closed = []  # how much of the LR -> HR gap on the detail classes SR closes (when there is a gap)
    for k in seeds:
        gap = results[k]["HR vs LR (positive control)"]["difference"]
        won = results[k]["SR vs LR"]["difference"]
        closed.append(f"seed {k}: {won / gap:.0%} of {gap:+.3f}" if gap > 0 else f"seed {k}: no gap ({gap:+.3f})")
    rules = " / ".join(
        f"seed {k}: " + ", ".join(f"{name} {value:.3f}" for name, value in results[k]["_thresholds_cv"].items())
        for k in seeds
    )
    return (
        "\n".join(lines)
        + f"\n\nChance-level mAP (class prevalence in val): {chance}.\n\nEach run's mAP at its last epoch on val "
        + "(every class / detail classes / tail classes):\n\n"
        + "\n".join(runs)
        + "\n\nShare of the LR → HR gap in detail-class mAP that SR closes: "
        + " / ".join(closed)
        + ".\n\nThreshold rules on the lr + sr + kd ensemble (cross-validated F1, no post-processing): "
        + rules
        + ".\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (data and training)")
    ap.add_argument("--input-size", type=int, help="train.input_size of every run (default: params.yaml's)")
    ap.add_argument(
        "--epochs",
        type=int,
        default=12,
        help="epochs of every run (default 12: at the demo's 6 the networks are still learning the coarse "
        "classes; 0: params.yaml's)",
    )
    args = ap.parse_args()
    if not (ROOT / REPO.generator).is_file():
        sys.exit(f"{REPO.generator} is missing: run `make repro` first (the bench reuses its generator)")
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    started = time.monotonic()
    results = {}
    for seed in (int(k) for k in args.seeds.split(",")):
        print(f"seed {seed}", flush=True)
        results[seed] = run_seed(seed, base, args.input_size, args.epochs)
    text = table(results)
    minutes = (time.monotonic() - started) / 60
    print(text + f"\nWall time: {minutes:.1f} min ({len(results)} seeds).")
    name = "summary" + variant(args.input_size, args.epochs)
    write_json(OUT / f"{name}.json", {str(k): v for k, v in results.items()})
    write_text(OUT / f"{name}.md", text)


if __name__ == "__main__":
    main()
