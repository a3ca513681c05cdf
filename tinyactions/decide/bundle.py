"""The trained ensemble as one file, ``submission/bundle.json``: what the evaluate stage decided on all of
val, in the terms a video needs to become a decision.

- ``classes``: the 26 class names in score order;
- ``members``: each checkpoint (file and sha256, recorded by its dump), its run's input (lr | sr) and
  recipe (the run's settings: backbone, preset, input size, sampling, segments, ...; no initial weights);
- ``weights`` (null: the plain mean), ``thresholds`` per class, ``groups`` (post-processing applied) and
  ``keep`` (which class of a group it keeps: ``score``, the top score, or ``margin``, the score furthest
  above its class's threshold);
- ``scoring``: the dumps' test-time views and precision as set, and how they ran (``batch``: clips per
  forward pass; ``made_with``: the resolved precision and device), which predict repeats;
- ``superres`` (only when a member reads super-resolved video): the generator's file and sha256 and the
  settings it ran with, the storage codec included (SR members were trained and scored on SR video as
  stored);
- ``val_f1``: the rule's macro F1 on val, cross-validated and in-sample;
- ``lr_only`` (when members read both kinds of video): the rule refitted on its low-res members alone
  (members, weights, thresholds, groups, keep, ``val_f1``): what ``predict --lr-only`` applies, and what it costs.

``answer.txt`` and ``val_predictions.csv`` are written from the bundle through ``decide`` and
``prediction_table``, the functions ``tinyactions.app.predict`` applies to its own member scores.
"""

from __future__ import annotations

import json
import stat
from dataclasses import asdict, fields
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from tinyactions.challenge.annotations import CLASSES, SCORE_COLUMNS, read_json
from tinyactions.challenge.groups import validate_groups
from tinyactions.core import budget
from tinyactions.core.filenames import escaped
from tinyactions.core.files import file_digest
from tinyactions.core.paths import PROJECT
from tinyactions.core.precision import PRECISIONS
from tinyactions.core.untrusted import kind
from tinyactions.data.video import CODECS
from tinyactions.decide import crossval, ensemble
from tinyactions.decide.settings import Keep
from tinyactions.score import canary
from tinyactions.superres.geometry import INPUTS as SR_INPUTS
from tinyactions.superres.geometry import SCALE
from tinyactions.superres.settings import BLOCKS_MAX, CHANNELS_MAX, SIZE_MAX, WINDOW_MAX
from tinyactions.train.spec import (
    BACKBONE_NAMES,
    DENSE_INTERVAL_MAX,
    INPUT_SIZE_MAX,
    PRESETS,
    SEGMENTS_MAX,
    RunSpec,
)


class BundleError(ValueError):
    """A bundle that cannot be applied as it stands (a file it names changed, a variant it lacks)."""


PREDICTION_COLUMNS = ("id", "video", "readable", "problem", "labels", *SCORE_COLUMNS)


def checkpoint_digests(table) -> dict[int, str]:
    """epoch -> sha256 of the checkpoint a score table was computed from (its dump records them)."""
    return {int(e): d for e, d in table.attrs.get("checkpoints", {}).items()}


def made_with(tables: list) -> dict:
    """How the members' score tables were made, as the bundle's ``scoring`` records it: the ``batch`` and
    the ``made_with`` (resolved precision, device) they share; None where they differ or a table
    predates the record."""

    def shared(key):
        values = {json.dumps(table.attrs.get(key), sort_keys=True) for table in tables}
        return json.loads(values.pop()) if len(values) == 1 else None

    ran = {"precision": shared("precision"), "device": shared("device")}
    return {
        "batch": shared("batch"),
        "made_with": ran if None not in ran.values() else None,
        "versions": shared("versions"),
    }


def canary_scores(table) -> dict[int, list]:
    """epoch -> the checkpoint's scores of the canary clips, as its dump recorded them."""
    return {int(e): c for e, c in table.attrs.get("canary", {}).items()}


def build(
    members: list[tuple[str, int]],
    specs: dict[str, RunSpec],
    digests: dict[tuple[str, int], str],
    weights: list[float] | None,
    thresholds: np.ndarray,
    groups: list[list[int]],
    views: int,
    precision: str,
    superres: dict | None,
    val_f1: dict[str, float] | None = None,
    ran: dict | None = None,
    canaries: dict[tuple[str, int], list] | None = None,
    *,
    keep: Keep,
) -> dict:
    """The bundle of (run, epoch) ``members``. ``digests`` holds each checkpoint's sha256; ``groups``
    are class indexes (``keep``: postprocess.keep); ``superres`` (the SR settings, generator file and
    sha256) is kept only when a member reads super-resolved video; ``val_f1``: {"cv": ..., "in_sample":
    ...}; ``ran``: how the dumps scored (``made_with`` of their tables); ``canaries``: each checkpoint's
    canary scores."""
    if keep not in get_args(Keep):
        raise ValueError(f"keep: {keep!r} is not {' or '.join(get_args(Keep))}")
    entries = member_entries(members, specs, digests, canaries or {})
    uses_sr = any(m["input"] == "sr" for m in entries)
    return {
        "classes": list(CLASSES),
        "members": entries,
        "weights": weights,
        "thresholds": [float(t) for t in thresholds],
        "groups": [[CLASSES[c] for c in g] for g in groups],
        "keep": keep,
        "scoring": {
            "views": views,
            "precision": precision,
            **(ran or {"batch": None, "made_with": None, "versions": None}),
        },
        "superres": superres if uses_sr else None,
        "val_f1": val_f1,
        "lr_only": None,
    }


def member_entries(
    members: list[tuple[str, int]],
    specs: dict[str, RunSpec],
    digests: dict[tuple[str, int], str],
    canaries: dict[tuple[str, int], list],
) -> list[dict]:
    missing = [f"{r}@{e}" for r, e in members if (r, e) not in digests]
    if missing:
        raise ValueError(f"no checkpoint digest recorded for {', '.join(missing)}: rerun their dump stages")
    return [
        {
            "run": run,
            "epoch": epoch,
            "input": specs[run].input,
            "checkpoint": str(PROJECT.checkpoint(run, epoch)),
            "sha256": digests[(run, epoch)],
            "recipe": recipe(specs[run]),
            "canary": canaries.get((run, epoch)),
        }
        for run, epoch in members
    ]


def with_lr_only(full: dict, lr: dict) -> dict:
    """``full`` with ``lr`` (a bundle of its low-res members, refitted) as its ``lr_only`` variant."""
    if any(m["input"] != "lr" for m in lr["members"]):
        raise ValueError("an lr_only variant holds low-res members only")
    return {**full, "lr_only": {k: lr[k] for k in ("members", "weights", "thresholds", "groups", "keep", "val_f1")}}


def lr_only(bundle: Bundle) -> Bundle:
    """The bundle ``predict --lr-only`` applies: the low-res members refitted, no super-resolution. A
    bundle without SR members is its own; one without low-res members has none (an error)."""
    if bundle.superres is None:
        return bundle
    if bundle.lr_only is None:
        raise BundleError("bundle: no member reads low-res video, so there is no --lr-only ensemble")
    variant = {name: getattr(bundle.lr_only, name) for name in Rule.model_fields}
    return bundle.model_copy(update={**variant, "superres": None, "lr_only": None})


def recipe(spec: RunSpec) -> dict:
    """A member's network and test-time input as its run defines them: the run's settings without the
    initial weights (the checkpoint replaces them; a path would name a host)."""
    return {k: v for k, v in asdict(spec).items() if k != "pretrained"}


def superres_entry(generator_file: str | Path, sha256: str, settings: dict) -> dict:
    """The SR part of a bundle: the generator's file and its sha256 with ``settings``."""
    return {"generator": str(generator_file), "sha256": sha256, **settings}


def decide(bundle: Bundle, member_scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(averaged scores, 0/1 predictions) from each member's (videos, 26) scores in bundle order. A
    video no member could score (NaN) gets NaN scores and no class."""
    if len(member_scores) != len(bundle.members):
        raise BundleError(f"{len(member_scores)} score matrices for {len(bundle.members)} bundle members")
    if bundle.classes != list(CLASSES):
        raise BundleError("bundle: its class order differs from this code's class map")
    scores = ensemble.average(member_scores, bundle.weights)
    index = {c: i for i, c in enumerate(CLASSES)}
    groups = [[index[c] for c in g] for g in bundle.groups]
    thresholds = np.asarray(bundle.thresholds, float)
    decision = crossval.Decision(members=[], thresholds=thresholds, groups=groups, keep=bundle.keep)
    return scores, crossval.predict(decision, scores)


def prediction_table(
    ids: list[str], videos: list[str], problems: list[str], scores: np.ndarray, predicted: np.ndarray
) -> pd.DataFrame:
    """One row per video: id (empty when unknown), video, readable, problem (why not), the predicted
    class names (space-separated, in class order) and the 26 averaged scores (NaN when unreadable). Text is
    valid UTF-8 whatever the file names: id, video and problem are written ``filenames.escaped`` (a name
    that is not UTF-8 as ``\\xNN`` escapes; ``filenames.unescaped`` gives the name back)."""
    table = pd.DataFrame(np.asarray(scores, np.float64), columns=list(SCORE_COLUMNS))
    labels = [" ".join(CLASSES[c] for c in np.flatnonzero(row)) for row in predicted]
    for position, (name, values) in enumerate(
        (
            ("id", [escaped(i) for i in ids]),
            ("video", [escaped(v) for v in videos]),
            ("readable", [not p for p in problems]),
            ("problem", [escaped(p) for p in problems]),
            ("labels", labels),
        )
    ):
        table.insert(position, name, values)
    return table


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A table ``prediction_table`` wrote (ids stay strings, scores read back to the bit)."""
    return pd.read_csv(
        path,
        dtype={"id": str, "video": str, "problem": str, "labels": str},
        keep_default_na=False,
        na_values={c: [""] for c in SCORE_COLUMNS},
        float_precision="round_trip",
        encoding="utf-8",
    )


def predicted_matrix(table: pd.DataFrame) -> np.ndarray:
    """The 0/1 (videos, 26) decisions of a predictions table, in class order."""
    index = {c: i for i, c in enumerate(CLASSES)}
    out = np.zeros((len(table), len(CLASSES)), np.int8)
    for row, labels in enumerate(table["labels"]):
        out[row, [index[c] for c in labels.split()]] = 1
    return out


class _Strict(BaseModel):
    # a key unknown to this layout is refused, and so is a number that is not finite
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


Size = Annotated[int, Field(ge=1, le=SIZE_MAX)]  # a pixel size or count a bundle may ask for (work grows with it)
Digest = Annotated[str, StringConstraints(pattern="^[0-9a-f]{64}$")]


class BundleMember(_Strict):
    run: str
    epoch: int
    input: Literal["lr", "sr"]
    checkpoint: str  # relative to the project root (``project_file``)
    sha256: Digest
    recipe: dict[str, Any]  # a RunSpec without its initial weights: checked by _check_recipe
    canary: list[list[float]] | None = None  # its canary scores at dump time (tinyactions.score.canary)

    def spec(self) -> RunSpec:
        """The member's network and test-time input (its checkpoint replaces the initial weights)."""
        return RunSpec(**self.recipe, pretrained=None)

    def name(self) -> str:
        return f"{self.run}@{self.epoch}"


class MadeWith(_Strict):
    precision: str
    device: str


class Scoring(_Strict):
    views: Annotated[int, Field(ge=1, le=32)]
    precision: str
    batch: Annotated[int, Field(ge=1)] | None
    made_with: MadeWith | None
    versions: dict[str, str] | None = None  # of the libraries that scored the dumps


class GeneratorSize(_Strict):
    mid_channels: Annotated[int, Field(ge=1, le=CHANNELS_MAX)]
    propagation_blocks: Annotated[int, Field(ge=1, le=BLOCKS_MAX)]
    cleaning_blocks: Annotated[int, Field(ge=1, le=BLOCKS_MAX)]


class SuperresEntry(_Strict):
    """The generator's file and sha256 with the settings it made the SR members' videos with."""

    generator: str
    sha256: Digest
    size: Annotated[Size, Field(multiple_of=SCALE)]
    input: Literal[SR_INPUTS]
    window: Annotated[int, Field(ge=3, le=WINDOW_MAX)]
    overlap: Annotated[int, Field(ge=0, le=WINDOW_MAX // 2)]
    precision: Literal[PRECISIONS]
    storage: Literal[tuple(CODECS)]
    spec: GeneratorSize

    def inference(self) -> dict:
        """The settings as ``Inference.inference()`` gives them (what ``UpscaleJob.of`` builds from)."""
        return self.model_dump(exclude={"generator", "sha256"})


class ValF1(_Strict):
    cv: float
    in_sample: float


class Rule(_Strict):
    """What decides: the members averaged with their weights, thresholds per class, groups post-processed."""

    members: list[BundleMember]
    weights: list[Annotated[float, Field(ge=0)]] | None
    thresholds: list[float]
    groups: list[list[str]]
    keep: Keep
    val_f1: ValF1 | None


class Bundle(Rule):
    classes: list[str]
    scoring: Scoring
    superres: SuperresEntry | None
    lr_only: Rule | None


KEYS = tuple(Bundle.model_fields)
MAX_BYTES = 16 * 2**20  # a bundle is a few kilobytes of JSON


def load(path: str | Path) -> Bundle:
    """A bundle file, checked against the layout ``build`` writes (types included: it may come from
    elsewhere); anything else (not JSON, a key missing or unknown, a value of the wrong type) is a
    BundleError of one line naming the file and the key."""
    try:
        data = read_json(path, max_bytes=MAX_BYTES)
    except ValueError as e:
        raise BundleError(f"not a bundle: {e}") from None
    return parse(data, str(path))


def parse(data: object, source: str = "bundle") -> Bundle:
    """``data`` (what ``build`` returns, or a file's JSON) as a Bundle, checked as ``load`` checks a file."""
    missing = [k for k in KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise BundleError(f"{source}: not a bundle of this version (no {', '.join(missing)}): rerun the evaluate stage")
    try:
        bundle = Bundle.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleError(f"{source}: {where}: {first['msg']}") from None
    for key, rule in (("", bundle), ("lr_only.", bundle.lr_only)):
        if rule is not None:
            _check_rule(rule, source, key)
            # the low-res variant is applied without super-resolution; the full rule with the bundle's generator
            reads_sr = [i for i, member in enumerate(rule.members) if member.input == "sr"]
            if reads_sr and (key or bundle.superres is None):
                why = "the low-res variant holds low-res members only" if key else "the bundle names no generator"
                raise BundleError(f"{source}: {key}members.{reads_sr[0]}: reads super-resolved video, but {why}")
    if bundle.classes != list(CLASSES):
        raise BundleError(f"{source}: classes: not this code's 26 classes in class-map order")
    _check_work(bundle, source)
    return bundle


def _check_work(bundle: Bundle, source: str) -> None:
    """What the bundle asks of a machine, before anything is built: each member's scoring batch and the
    generator within their memory budgets (``tinyactions.core.budget``), SR windows that advance."""
    batch = bundle.scoring.batch or 1
    for i, member in enumerate(bundle.members):
        spec = member.spec()
        problem = budget.scoring_problem(spec.input_size, spec.segments, bundle.scoring.views, batch)
        if problem:
            raise BundleError(f"{source}: members.{i}.recipe: {problem} (input_size, segments, scoring.views, batch)")
    sr = bundle.superres
    if sr is not None:
        if sr.window <= 2 * sr.overlap:
            raise BundleError(f"{source}: superres.window: {sr.window} must exceed twice the overlap ({sr.overlap})")
        problem = budget.generator_problem(
            sr.size, sr.window, sr.spec.mid_channels, sr.spec.propagation_blocks, sr.spec.cleaning_blocks
        )
        if problem:
            raise BundleError(f"{source}: superres.spec: {problem}")


# what a member's recipe may choose, and the sizes it may ask for (work and memory grow with them)
RECIPE_CHOICES = {
    "backbone": BACKBONE_NAMES,
    "preset": PRESETS,
    "input": ("lr", "sr"),
    "loss": ("bce", "asl", "kd"),
    "sampling": ("uniform", "dense"),
    "precision": PRECISIONS,
}
RECIPE_BOUNDS = {
    "input_size": (1, INPUT_SIZE_MAX),
    "segments": (1, SEGMENTS_MAX),
    "dense_interval": (1, DENSE_INTERVAL_MAX),
}


def _check_recipe(recipe: dict) -> tuple[str, str] | None:
    """(".key", what is wrong) of a member's recipe, or None: the fields of a RunSpec (but its initial
    weights) with their types, the choices this code knows and bounded sizes."""
    try:
        spec = TypeAdapter(RunSpec).validate_python({**recipe, "pretrained": None})
    except ValidationError as e:
        first = e.errors()[0]
        return "." + ".".join(str(part) for part in first["loc"]), first["msg"]
    unknown = sorted(set(recipe) - {f.name for f in fields(RunSpec)} | ({"pretrained"} & set(recipe)))
    if unknown:
        return f".{unknown[0]}", "unknown key"
    for name, choices in RECIPE_CHOICES.items():
        if getattr(spec, name) not in choices:
            return f".{name}", f"{getattr(spec, name)!r} is not one of {', '.join(choices)}"
    for name, (low, high) in RECIPE_BOUNDS.items():
        if not low <= getattr(spec, name) <= high:
            return f".{name}", f"{getattr(spec, name)} is outside {low}..{high}"
    return None


def _check_rule(rule: Rule, source: str, key: str) -> None:
    """What the types cannot say: one threshold per class, one weight per member, groups of known classes
    (each once), canary scores of every canary clip."""
    n = len(rule.members)
    problems = [
        (f"{key}thresholds", f"{len(rule.thresholds)} thresholds for {len(CLASSES)} classes")
        if len(rule.thresholds) != len(CLASSES)
        else None,
        (f"{key}weights", f"{len(rule.weights)} weights for {n} members")
        if rule.weights is not None and len(rule.weights) != n
        else None,
        (f"{key}weights", "all zero: at least one member needs a positive weight")
        if rule.weights is not None and not sum(rule.weights) > 0
        else None,
        (f"{key}members", "no member") if not n else None,
    ]
    try:
        validate_groups(rule.groups)
    except ValueError as e:
        problems.append((f"{key}groups", str(e)))
    shape = [len(canary.SHAPES), len(CLASSES)]
    for i, member in enumerate(rule.members):
        problem = _check_recipe(member.recipe)
        if problem:
            problems.append((f"{key}members.{i}.recipe{problem[0]}", problem[1]))
        elif member.recipe["input"] != member.input:
            problems.append(
                (f"{key}members.{i}.input", f"{member.input}, but its recipe reads {member.recipe['input']}")
            )
        if member.canary is not None and [len(member.canary), *{len(row) for row in member.canary}] != shape:
            problems.append((f"{key}members.{i}.canary", f"not {shape[0]} clips x {shape[1]} scores"))
    found = next((p for p in problems if p), None)
    if found:
        raise BundleError(f"{source}: {found[0]}: {found[1]}")


def project_file(rel, root: str | Path = ".") -> Path:
    """The file a bundle names, under ``root``: a relative path that stays inside it. Absolute paths,
    '..' and anything but a string are refused before any file is opened: a bundle from elsewhere
    names files of this project only."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        raise BundleError(f"bundle: {rel!r} is not a file path")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or PureWindowsPath(rel).drive or ".." in pure.parts or ".." in PureWindowsPath(rel).parts:
        raise BundleError(f"bundle: {rel!r} is not a path inside the project (absolute and '..' paths are refused)")
    return Path(root) / pure


def verify(bundle: Bundle, root: str | Path = ".") -> None:
    """Every file the bundle names is a regular file inside ``root`` (links followed: one that leads out of
    the project is refused) and has its recorded sha256; else an error naming it. Checked before any of
    them is loaded (loading reads them as data: ``checkpoint_io``)."""
    files = [(m.checkpoint, m.sha256) for m in bundle.members]
    if bundle.superres is not None:
        files.append((bundle.superres.generator, bundle.superres.sha256))
    for rel, _ in files:
        project_file(rel, root)
    inside = Path(root).resolve()
    for rel, digest in files:
        path = project_file(rel, root)
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"bundle: {rel} does not exist")
        target = path.resolve()
        if not target.is_relative_to(inside):
            raise BundleError(f"bundle: {rel} leads out of the project (a link to {target})")
        if not target.exists():
            raise FileNotFoundError(f"bundle: {rel} does not exist (a link to nothing)")
        mode = target.stat().st_mode
        if not stat.S_ISREG(mode):
            raise BundleError(f"bundle: {rel} is {kind(mode)}, not a regular file")
        if file_digest(path) != digest:
            raise BundleError(f"bundle: {rel} is not the file the bundle was made with (sha256 differs)")
