"""dvc.yaml stays the honest map of the pipeline: every stage lists exactly the project code its command
imports (transitively) as deps, every param key it lists exists, no stage lists an execution key, every
settings key a stage reads is covered by a param it lists and every param it lists is read."""

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from tinyactions import settings
from tinyactions.devtools.imports import ROOT, closure

MAP = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
CODE = re.compile(r"^(stages|tinyactions)/.*\.py$")
# what a Settings method reads (RUN: the run's own entry, ``runs.<name>`` or ``students.<name>``;
# TEACHER: a student's teacher and teacher_epoch)
METHOD_READS = {
    "run_spec": ["train", "RUN"],
    "run_key": ["RUN"],
    "epochs_key": ["RUN"],
    "run_names": ["runs", "students"],
    "ensemble.parsed": ["ensemble.members"],
    "teacher": ["TEACHER"],
    # a section's method: what it reads of its section
    "superres.inference": [f"superres.{k}" for k in ("size", "input", "window", "overlap", "precision", "storage")]
    + ["superres.generator"],
}


def stage_module(name: str) -> str:
    cmd = MAP[name]["do"]["cmd"] if "foreach" in MAP[name] else MAP[name]["cmd"]
    return re.match(r"python -m (stages\.\w+)", cmd).group(1)


def definition(name: str) -> dict:
    return MAP[name]["do"] if "foreach" in MAP[name] else MAP[name]


def listed_params(name: str) -> list[str]:
    return [p if isinstance(p, str) else next(iter(p)) for p in definition(name).get("params", [])]


def settings_reads(path: Path) -> set[str]:
    """Dotted settings keys read through a variable ``s`` (a Settings) in ``path``: attribute chains down
    to the deepest field, and the keys a Settings method reads."""
    reads = set()
    for chain in re.findall(r"\bs\.([a-z_]+(?:\.[a-z_]+)*)", path.read_text()):
        node, key = settings.Settings, []
        for part in chain.split("."):
            if isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
                key.append(part)
                node = node.model_fields[part].annotation
            else:
                method = ".".join([*key, part])
                if method in METHOD_READS:
                    reads.update(METHOD_READS[method])
                    key = []
                break
        if key:
            reads.add(".".join(key))
    return reads


def covered(key: str, listed: list[str]) -> bool:
    if key == "RUN":  # the entry of the stage's run (runs.<name> or students.<name>), or every run
        return any(p.split(".")[0] in ("runs", "students") for p in listed)
    if key == "TEACHER":
        return {"students.${key}.teacher", "students.${key}.teacher_epoch"} <= set(listed) or bool(
            {"students.${key}", "students"} & set(listed)
        )
    plain = [re.sub(r"\.\$\{[^}]+\}$", "", p) for p in listed]
    return any(
        key == p or key.startswith(p + ".") or p.startswith(key + ".") and key in ("runs", "students") for p in plain
    )


def read_by(listed: str, reads: set[str]) -> bool:
    """A listed param is read: itself, a key inside it, or (an entry of runs or students) the stage's run."""
    if re.fullmatch(r"(runs|students)\.\$\{[^}]+\}", listed) and reads & {"RUN", "runs", "students"}:
        return True
    if listed.startswith("students.${key}.teacher") and "TEACHER" in reads:
        return True
    return any(r == listed or r.startswith(listed + ".") for r in reads)


def key_exists(key: str) -> bool:
    node = PARAMS
    for part in key.split("."):
        if part.startswith("${"):
            return isinstance(node, dict) and bool(node)
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("name", sorted(MAP))
def test_code_deps_are_exactly_what_the_command_imports(name):
    deps = {d for d in definition(name).get("deps", []) if CODE.match(d)}
    assert deps == set(closure(stage_module(name))), f"{name}: dvc.yaml lists {sorted(deps)}"


@pytest.mark.parametrize("name", sorted(MAP))
def test_params_exist_exclude_execution_and_cover_what_the_stage_reads(name):
    listed = listed_params(name)
    assert all(key_exists(p) for p in listed), listed
    assert not [p for p in listed if p.split(".")[0] == "execution"], "execution keys never rerun a stage"
    files = [
        ROOT / f
        for f in closure(stage_module(name))
        if f.startswith("stages/") or f == "tinyactions/decide/evaluate.py"
    ]
    reads = set().union(*(settings_reads(f) for f in files))
    reads = {r for r in reads if not r.startswith("execution")}
    if "params.yaml" in definition(name).get("deps", []):
        reads = set()  # the whole file is a dep (validate)
    assert [r for r in sorted(reads) if not covered(r, listed)] == [], f"{name} lists {listed}"
    if reads:
        assert [p for p in listed if not read_by(p, reads)] == [], f"{name} reads only {sorted(reads)}"
        nested = [(a, b) for a in listed for b in listed if b.startswith(a + ".")]
        assert nested == [], f"{name} lists a key and a key inside it"


def test_every_stage_waits_for_the_validated_params():
    """validate depends on the whole params.yaml; every stage without an upstream stage depends on its
    marker, so an invalid change stops `dvc repro` before any work."""
    assert "params.yaml" in definition("validate")["deps"]
    marker = definition("validate")["outs"][0]
    outs = {o if isinstance(o, str) else next(iter(o)) for n in MAP for o in definition(n).get("outs", [])}
    for name in MAP:
        upstream = [d for d in definition(name).get("deps", []) if any(d == o or d.startswith(o + "/") for o in outs)]
        assert name == "validate" or upstream, f"{name} depends on no stage's output"
    roots = [
        n
        for n in MAP
        if n != "validate"
        and all(
            d == marker or not any(d == o or d.startswith(o + "/") for o in outs) for d in definition(n).get("deps", [])
        )
    ]
    assert roots and all(marker in definition(n)["deps"] for n in roots), roots
    assert marker in definition("prepare")["deps"]  # data.root may be a real dataset outside the pipeline


def test_no_stage_imports_another_and_the_library_imports_no_stage():
    for path in sorted((ROOT / "stages").glob("*.py")) + sorted((ROOT / "tinyactions").rglob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) stages\b", text, re.M), path.name


def test_the_reader_finds_chains_and_methods(tmp_path):
    """The static reader above is itself tested: a chain stops at the deepest field, methods count."""
    f = tmp_path / "x.py"
    f.write_text("s.superres.generator.model_dump()\nspec = s.run_spec(name)\nt = s.thresholds\nx.s.data\n")
    assert settings_reads(f) == {"superres.generator", "train", "RUN", "thresholds", "data"}
    f.write_text("job = UpscaleJob.of(s.superres.inference(), g, b)\n")
    made_of = {f"superres.{k}" for k in settings.load(ROOT / "params.yaml").superres.inference()} - {"superres.spec"}
    assert settings_reads(f) == made_of | {"superres.generator"}  # the table says what the method reads
    assert covered("superres.generator", ["superres"]) and not covered("superres.fit", ["superres.size"])
    assert covered("RUN", ["runs.${key}"]) and covered("runs", ["runs"]) and not covered("thresholds", ["train"])
    assert covered("RUN", ["students.${key}"]) and not covered("RUN", ["students_x"])
    assert covered("TEACHER", ["students.${key}.teacher", "students.${key}.teacher_epoch"])
    assert not covered("TEACHER", ["students.${key}.teacher"]) and not covered("best_by", ["students"])


def stage_reads(module: str) -> type:
    """The ``Reads`` a stage's module loads (``<Reads>.load(REPO.params)``; validate: the composer)."""
    import importlib

    source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
    if "settings.load(REPO.params)" in source:
        return settings.Settings
    (name,) = re.findall(r"(\w+)\.load\(REPO\.params\)", source)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("module", sorted({stage_module(n) for n in MAP}))
def test_a_stage_loads_exactly_the_sections_it_lists(module):
    """A stage validates the top-level sections its params name (and its share of execution), no other:
    a section it does not read never stops it, and its models are all the settings code it runs."""
    sections = set(stage_reads(module).model_fields) - {"execution"}
    names = [n for n in MAP if stage_module(n) == module]
    listed = {p.split(".")[0] for n in names for p in listed_params(n)}
    if "params.yaml" in definition(names[0]).get("deps", []):  # validate: the whole file
        listed = set(PARAMS)
    assert sections == listed - {"execution"}, names
