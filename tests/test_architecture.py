"""The library's tree is its architecture: one package per phase, imported only downwards, so that a
reader finds a rule where its phase is and a change cannot reach back into an earlier phase."""

import ast
import re

import pytest

from tinyactions.devtools.imports import ROOT, closure, direct_imports

LIBRARY = ROOT / "tinyactions"
# lowest first: a module imports only from its own layer or lower ones
LAYERS = ["core", "challenge", "data", "superres", "train", "score", "decide", "settings", "app"]
# tools for tests and bench, never imported by the pipeline; they may import anything
TOOLS = "devtools"
# tinyactions/settings.py composes every phase's sections to check rules across them: the validate stage
# and the app import it, no phase does


def modules() -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in LIBRARY.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )


def layer(module: str) -> str:
    return module.split(".")[1]


def test_every_module_belongs_to_a_layer_or_the_tools():
    assert {layer(m) for m in modules()} == set(LAYERS) | {TOOLS}
    root_files = sorted(p.name for p in LIBRARY.glob("*.py"))
    assert root_files == ["__init__.py", "__main__.py", "settings.py"], "a phase's module lives in its package"


def test_imports_only_go_down_the_layers():
    upward = set()
    for module in modules():
        if layer(module) == TOOLS:
            continue
        for imported in direct_imports(ROOT / (module.replace(".", "/") + ".py")):
            if layer(imported) == TOOLS or LAYERS.index(layer(imported)) > LAYERS.index(layer(module)):
                upward.add((module, imported))
    assert upward == set()


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The rule above is itself tested: a data module importing a decide module is caught."""
    fake = tmp_path / "tinyactions/data/fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from tinyactions.decide import thresholds\n")
    monkeypatch.setattr("tinyactions.devtools.imports.ROOT", tmp_path)
    (tmp_path / "tinyactions/decide").mkdir()
    (tmp_path / "tinyactions/decide/thresholds.py").write_text("")
    found = direct_imports(fake)
    assert found == {"tinyactions.decide.thresholds"}
    assert LAYERS.index(layer(next(iter(found)))) > LAYERS.index("data")


# each stage's phase; the one module of a later layer it may import is the stages' own plumbing
STAGE_PHASES = {
    "validate": "settings",
    "synth": "data",
    "prepare": "data",
    "superres_fit": "superres",
    "superres": "superres",
    "train": "train",
    "dump": "score",
    "teacher": "score",
    "evaluate": "decide",
}
PLUMBING = {"tinyactions/app/stage.py"}


@pytest.mark.parametrize("stage", sorted(STAGE_PHASES))
def test_a_stage_depends_on_no_later_phases_rules(stage):
    """A change to a later phase's rule (a threshold strategy, post-processing, the best-epoch rule) never
    makes an earlier stage stale: training does not rerun when the decision rule changes."""
    phase = LAYERS.index(STAGE_PHASES[stage])
    later = [
        f
        for f in closure(f"stages.{stage}")
        if f.startswith("tinyactions/") and f.count("/") == 2 and LAYERS.index(f.split("/")[1]) > phase
    ]
    assert sorted(set(later) - PLUMBING) == []


def composer_importers(files) -> list[str]:
    """The files that import the composer (``tinyactions.settings``) in any form, annotations included."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            if "tinyactions.settings" in names:
                found.append(str(path.relative_to(ROOT)))
    return sorted(set(found))


def test_only_validate_and_the_app_import_the_composer():
    """Each phase owns its sections' models and a stage loads only the sections it reads; the rules across
    sections run once, in validate. A phase never imports the composer, not even for a type."""
    phases = [p for p in LIBRARY.rglob("*.py") if layer(".".join(p.relative_to(ROOT).parts)) in LAYERS[:7]]
    assert composer_importers(phases) == []
    assert composer_importers([*(ROOT / "stages").glob("*.py")]) == ["stages/validate.py"]


def test_the_composer_checker_sees_every_form(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.test_architecture.ROOT", tmp_path)
    for code in (
        "from tinyactions import settings\n",
        "import tinyactions.settings\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tinyactions.settings import Settings\n",
    ):
        fake = tmp_path / "fake.py"
        fake.write_text(code)
        assert composer_importers([fake]) == ["fake.py"], code


def test_every_stage_has_its_phase():
    assert set(STAGE_PHASES) == {p.stem for p in (ROOT / "stages").glob("*.py")} - {"__init__"}


@pytest.mark.parametrize("stage", sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem != "__init__"))
def test_no_stage_runs_the_tools(stage):
    assert not [f for f in closure(f"stages.{stage}") if f.startswith(f"tinyactions/{TOOLS}/")]


def test_package_inits_hold_a_docstring_only():
    """dvc.yaml lists the modules a stage imports, not the packages' ``__init__.py``: they can hold nothing
    that runs."""
    for init in sorted(LIBRARY.rglob("__init__.py")):
        body = ast.parse(init.read_text()).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), init


def repo_readers(files) -> list[str]:
    """The files that reach the repository's workspace on their own: name ``REPO`` in any form (imported,
    or as an attribute of any module alias) or build a default ``Workspace()``."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                (isinstance(node, ast.ImportFrom) and any(a.name in ("REPO", "*") for a in node.names))
                or (isinstance(node, ast.Attribute) and node.attr == "REPO")
                or (isinstance(node, ast.Name) and node.id == "REPO")
                or (isinstance(node, ast.Constant) and node.value == "REPO")  # getattr(paths, "REPO")
                or (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Workspace"
                    and not node.args
                    and not node.keywords
                )
            ):
                found.append(str(path.relative_to(ROOT)))
    return sorted(set(found))


def test_only_stages_and_commands_resolve_the_workspace():
    """One I/O rule: a stage or a command resolves where files are and passes it on; a phase's function
    reads and writes only where its caller says, so that a test runs it on a scratch folder as is."""
    phases = [p for p in LIBRARY.rglob("*.py") if layer(".".join(p.relative_to(ROOT).parts)) in LAYERS[:7]]
    assert len(phases) > 40 and ROOT / "tinyactions/core/paths.py" in phases
    assert repo_readers(phases) == ["tinyactions/core/paths.py"]  # where REPO is defined
    assert repo_readers([*(ROOT / "stages").glob("*.py")]) == sorted(
        f"stages/{p.name}" for p in (ROOT / "stages").glob("*.py") if p.stem not in ("__init__",)
    )


@pytest.mark.parametrize(
    "code",
    [
        "from tinyactions.core import paths\nx = paths.REPO.models\n",
        "from tinyactions.core.paths import REPO as here\n",
        "import tinyactions.core.paths as where\nx = where.REPO\n",
        "import tinyactions.core.paths\nx = tinyactions.core.paths.REPO\n",
        "from tinyactions.core.paths import *\n",
        "from tinyactions.core import paths\nx = getattr(paths, 'REPO')\n",
        "from tinyactions.core.paths import Workspace\nx = Workspace().models\n",
    ],
)
def test_the_workspace_rule_sees_a_phase_reading_it(tmp_path, monkeypatch, code):
    fake = tmp_path / "fake.py"
    fake.write_text(code)
    monkeypatch.setattr("tests.test_architecture.ROOT", tmp_path)
    assert repo_readers([fake]) == ["fake.py"]


def test_the_workspace_rule_lets_a_phase_take_a_workspace(tmp_path, monkeypatch):
    fake = tmp_path / "fake.py"
    fake.write_text("from tinyactions.core.paths import PROJECT, Workspace\ndef f(ws: Workspace): return ws.models\n")
    monkeypatch.setattr("tests.test_architecture.ROOT", tmp_path)
    assert repo_readers([fake]) == []


def test_project_modules_are_imported_by_their_names():
    """No one-letter aliases (``from tinyactions.decide import crossval as X``): a reader sees which
    module a call goes to."""
    aliased = []
    for path in sorted([*LIBRARY.rglob("*.py"), *(ROOT / "stages").glob("*.py"), *(ROOT / "tests").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinyactions"):
                aliased += [f"{path.relative_to(ROOT)}: {a.name} as {a.asname}" for a in node.names if a.asname]
    assert [a for a in aliased if re.search(r" as \w$", a)] == []


def test_tests_mirror_the_library():
    """A test folder is named after the package it tests."""
    folders = {p.parent.name for p in (ROOT / "tests").rglob("test_*.py") if p.parent != ROOT / "tests"}
    assert folders <= set(LAYERS) | {TOOLS}, folders
    assert folders >= set(LAYERS) - {"settings"}
