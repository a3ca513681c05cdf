"""What a change reruns, from dvc.yaml and the import graph: the table in docs/staleness.md is the tree's,
and the pipeline's promises hold. A later phase's change (a threshold rule, post-processing, the scores'
analysis) never stales an earlier stage; super-resolution never stales a low-res run's training."""

import shutil

import pytest
import yaml

from tinyactions.devtools import pipeline_map
from tinyactions.devtools.imports import ROOT

TRAINING = {"superres_fit", "superres", "train", "distill"}  # the stages that fit networks


def promises_broken(root=ROOT) -> list[str]:
    """Every break of the pipeline's staleness promises in the checkout at ``root``."""
    modules, keys = pipeline_map.module_staleness(root), pipeline_map.param_staleness(root)
    broken = []
    for path, stages in modules.items():
        if path.startswith("tinyactions/decide/") and set(stages) - {"validate", "evaluate"}:
            broken.append(f"{path} stales {stages}")
        if path.startswith("tinyactions/score/") and set(stages) & TRAINING:
            broken.append(f"{path} stales {stages}")
        if path.startswith("tinyactions/superres/") and set(stages) & {"train", "distill"}:
            broken.append(f"{path} stales {stages} (low-res runs train there)")
    for section in ("thresholds", "ensemble", "postprocess", "intervals"):
        rows = {k: v for k, v in keys.items() if k == section or k.startswith(section + ".")}
        broken += [f"{k} stales {v}" for k, v in rows.items() if v != ["validate", "evaluate"]]
        if not rows:
            broken.append(f"{section}: no row")
    return broken


def test_the_staleness_table_in_the_docs_is_the_trees():
    assert (ROOT / "docs/staleness.md").read_text() == pipeline_map.staleness_markdown(ROOT), (
        "regenerate it: python -m tinyactions.devtools.pipeline_map staleness"
    )


def test_a_later_phase_never_stales_an_earlier_stage():
    modules = pipeline_map.module_staleness()
    assert modules["tinyactions/decide/thresholds.py"] == ["evaluate"]
    assert modules["tinyactions/decide/settings.py"] == ["validate", "evaluate"]
    assert modules["tinyactions/settings.py"] == ["validate"]  # the rules across sections
    assert promises_broken() == []


def test_the_promises_checker_sees_a_break(tmp_path):
    """The check above can fail: a training stage that imports a decide module, a score module or a
    super-resolution module, and a stage before evaluate that lists a threshold key, are all found."""
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("tinyactions", "stages"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert promises_broken(tmp_path) == []
    dvc = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    train = dvc["stages"]["train"]["do"]
    train["deps"] += ["tinyactions/decide/postprocess.py", "tinyactions/score/best_epoch.py"]
    dvc["stages"]["distill"]["do"]["deps"].append("tinyactions/superres/dataset.py")
    dvc["stages"]["prepare"]["params"].append("thresholds.strategy")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dvc, sort_keys=False))
    broken = promises_broken(tmp_path)
    assert any(b.startswith("tinyactions/decide/postprocess.py") for b in broken)
    assert any(b.startswith("tinyactions/score/best_epoch.py") for b in broken)
    assert any(b.startswith("tinyactions/superres/dataset.py") for b in broken)
    assert "thresholds.strategy stales ['validate', 'prepare', 'evaluate']" in broken


def test_a_runs_entry_stales_its_own_stages_only():
    keys = pipeline_map.param_staleness()
    assert keys["runs.<name>"] == ["validate", "train@<name>", "dump@<name>", "teacher@<its students>", "evaluate"]
    assert keys["execution"] == []
    fit_only = next(k for k in keys if k.startswith("superres.") and "weights" in k)
    assert keys[fit_only] == ["validate", "superres_fit"]  # the generator's fit reruns SR only through its file


def test_rewriting_the_code_deps_keeps_every_other_line():
    text = (ROOT / "dvc.yaml").read_text()
    assert pipeline_map.rewrite_deps(text, pipeline_map.code_deps()) == text  # dvc.yaml is up to date
    wanted = pipeline_map.code_deps()
    wanted["evaluate"] = [*wanted["evaluate"], "tinyactions/decide/extra.py"]
    rewritten = pipeline_map.rewrite_deps(text, wanted)
    assert (
        rewritten.count("tinyactions/decide/extra.py") == 1
        and len(rewritten.splitlines()) == len(text.splitlines()) + 1
    )
    with pytest.raises(ValueError, match="no code dep to replace in nowhere"):
        pipeline_map.rewrite_deps(text, {**wanted, "nowhere": ["stages/x.py"]})
