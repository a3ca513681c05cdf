"""Parameter profiles: overlays on params.yaml that switch the demo to another configuration.

    tinyactions profile paper --data-root /datasets/TinyVIRAT_V2 --weights /weights --gpus 8

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

from tinyactions import settings
from tinyactions.challenge.annotations import ANNOTATION_FILES
from tinyactions.core.errors import SettingsError
from tinyactions.core.files import write_text
from tinyactions.core.paths import REPO

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
            raise SettingsError(f"profile placeholder {e} has no value (given: {', '.join(values)})") from None
    return value


def profile_names(profiles: Path = PROFILES) -> list[str]:
    """The profiles there are: ``profiles/<name>.yaml``."""
    return sorted(p.stem for p in profiles.glob("*.yaml"))


def load_profile(name: str, values: dict, base: dict, profiles: Path = PROFILES) -> dict:
    path = profiles / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(profile_names(profiles)) or "none"
        raise SettingsError(f"profile {name!r}: no {path} (profiles: {known})")
    overlay = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return merge(base, fill(overlay, values))


def _need_file(key: str, path: str | None) -> None:
    if path is not None and not Path(path).is_file():
        raise SettingsError(f"{key}: {path} does not exist")


def validate(p: dict, check_files: bool = True) -> list[str]:
    """Validate ``p`` exactly as every `dvc repro` does (``tinyactions.settings``) and check the files the
    stages will open. Returns the trained runs; raises SettingsError naming the first bad key."""
    s = settings.parse(p)
    if check_files:
        if s.data.source == "tinyvirat":
            for name in ANNOTATION_FILES.values():
                _need_file("data.root", str(Path(s.data.root) / name))
        for name in s.run_names():
            spec = s.run_spec(name)
            _need_file(f"train.pretrained.{spec.backbone}", spec.pretrained)
        if s.superres.weights != "fit":
            _need_file("superres.weights", s.superres.weights)
    return s.run_names()


def main(argv: list[str] | None = None, prog: str = "tinyactions profile") -> None:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Switch params.yaml to a named profile: params.yaml + profiles/<name>.yaml with its "
        "placeholders filled, every key and every file the stages will open checked first. `git checkout "
        "params.yaml` returns to the demo.",
    )
    ap.add_argument("profile", help=f"the profile's name, one of: {', '.join(profile_names()) or 'none here'}")
    ap.add_argument("--data-root", required=True, help="the TinyVIRAT-v2 root (holds tiny_train_v2.json)")
    ap.add_argument("--weights", required=True, help="folder with the checkpoints the profile names")
    ap.add_argument("--gpus", type=int, default=1, help="training processes per machine (default 1)")
    ap.add_argument("--params", default=str(REPO.params), help="the params file to read and write")
    ap.add_argument("--check", action="store_true", help="validate only; do not write")
    args = ap.parse_args(argv)
    try:
        base = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise SettingsError(f"{args.params}: {' '.join(str(e).split())}") from None
    values = {"data_root": str(Path(args.data_root)), "weights": str(Path(args.weights)), "gpus": args.gpus}
    merged = load_profile(args.profile, values, base)
    runs = validate(merged)
    if args.check:
        print(f"profile {args.profile}: valid ({len(runs)} runs: {', '.join(runs)})")
        return
    header = (
        f"# Generated by `tinyactions profile {args.profile}` from params.yaml + "
        f"profiles/{args.profile}.yaml.\n# `git checkout params.yaml` returns to the demo.\n"
    )
    write_text(args.params, header + yaml.safe_dump(merged, sort_keys=False))
    print(f"wrote {args.params} (profile {args.profile}, {len(runs)} runs); next: dvc repro")


def command(argv: list[str], prog: str) -> None:
    """``tinyactions profile``: a profile that does not validate is one line."""
    try:
        main(argv, prog)
    except SettingsError as e:
        sys.exit(f"profile: {e}")


if __name__ == "__main__":
    command(sys.argv[1:], "python -m tinyactions.app.profiles")
