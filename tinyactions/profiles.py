"""Parameter profiles: overlays on params.yaml that switch the demo to another configuration.

    python -m tinyactions.profiles paper --data-root /datasets/TinyVIRAT_V2 --weights /weights --gpus 8

writes params.yaml = params.yaml + profiles/paper.yaml (placeholders filled) after checking every
parameter the stages read, and every file they will need, so a typo fails now and not hours into a
run. Then `dvc repro` (or `dvc exp run`, to keep the demo's results beside the new ones) runs it;
`git checkout params.yaml` returns to the demo. ``--check`` validates without writing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from . import params as P
from .annotations import ANNOTATION_FILES
from .atomic import write_text

PROFILES = Path("profiles")
REPLACED = ("runs",)  # sections a profile replaces whole instead of merging key by key


def merge(base: dict, overlay: dict, top: bool = True) -> dict:
    """Recursive merge: dicts key by key, everything else (lists, scalars) and REPLACED sections whole."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not (top and key in REPLACED):
            out[key] = merge(out[key], value, top=False)
        else:
            out[key] = value
    return out


def fill(value, values: dict):
    """Replace {name} placeholders in strings; a string that is exactly one placeholder takes the value's type."""
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, str) and "{" in value:
        for name, given in values.items():
            if value == f"{{{name}}}":
                return given
        try:
            return value.format_map(values)
        except KeyError as e:
            raise P.ParamError(f"profile placeholder {e} has no value (given: {', '.join(values)})") from None
    return value


def load_profile(name: str, values: dict, base: dict, profiles: Path = PROFILES) -> dict:
    path = profiles / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in profiles.glob("*.yaml"))) or "none"
        raise P.ParamError(f"profile {name!r}: no {path} (profiles: {known})")
    overlay = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return merge(base, fill(overlay, values))


def _need_file(key: str, path: str | None) -> None:
    if path is not None and not Path(path).is_file():
        raise P.ParamError(f"{key}: {path} does not exist")


def validate(p: dict, check_files: bool = True) -> list[str]:
    """Run every stage's parameter parsing on ``p`` (without running a stage) and check the files the
    stages will open. Returns the training runs; raises ParamError naming the first bad key."""
    # stages own their parsing; importing them here keeps one definition of every rule
    from stages.distill import student_spec
    from stages.evaluate import ensemble_members, threshold_config
    from stages.superres_fit import generator_spec, weights_source
    from stages.teacher import teacher_spec
    from stages.train import run_spec

    source = P.get(p, "data.source", str, choices=("synth", "tinyvirat"))
    root = P.get(p, "data.root", str)
    P.get(p, "data.bad_entries", str, choices=("fail", "skip"))
    if check_files and source == "tinyvirat":
        for name in ANNOTATION_FILES.values():
            _need_file("data.root", str(Path(root) / name))
    P.get(p, "train.nproc", int, minimum=1)
    for key, minimum in (("data_workers", 0), ("loader_workers", 0), ("score_chunk", 1), ("superres_batch", 1)):
        P.get(p, f"execution.{key}", int, minimum=minimum)  # read by the stages; checked here before any runs
    runs = list(P.get(p, "runs", dict))
    for name in runs:
        spec = run_spec(p, name)
        if check_files:
            _need_file(f"train.pretrained.{spec.backbone}", spec.pretrained)
    student_spec(p)
    teacher_spec(p)
    generator_spec(p)
    weights = weights_source(p)
    if weights != "fit" and check_files:
        _need_file("superres.weights", weights)
    threshold_config(p)
    ensemble_members(p)
    return runs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="switch params.yaml to a named profile (profiles/<name>.yaml)")
    ap.add_argument("profile")
    ap.add_argument("--data-root", required=True, help="the TinyVIRAT-v2 root (holds tiny_train_v2.json)")
    ap.add_argument("--weights", required=True, help="folder with the checkpoints the profile names")
    ap.add_argument("--gpus", type=int, default=1, help="training processes per machine (default 1)")
    ap.add_argument("--params", default=str(P.PARAMS_FILE), help="the params file to read and write")
    ap.add_argument("--check", action="store_true", help="validate only; do not write")
    args = ap.parse_args(argv)
    base = P.load(args.params)
    values = {"data_root": str(Path(args.data_root)), "weights": str(Path(args.weights)), "gpus": args.gpus}
    merged = load_profile(args.profile, values, base)
    runs = validate(merged)
    if args.check:
        print(f"profile {args.profile}: valid ({len(runs)} runs: {', '.join(runs)})")
        return
    header = (f"# Generated by `python -m tinyactions.profiles {args.profile}` from params.yaml + "
              f"profiles/{args.profile}.yaml.\n# `git checkout params.yaml` returns to the demo.\n")
    write_text(args.params, header + yaml.safe_dump(merged, sort_keys=False))
    print(f"wrote {args.params} (profile {args.profile}, {len(runs)} runs); next: dvc repro")


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"profiles: {e}")
