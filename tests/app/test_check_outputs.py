"""tinyactions check-outputs: the check before `dvc commit -f` carries finished runs over a code move."""

import subprocess

import pytest
import yaml

from tinyactions.app import check_outputs


def lock(prepared_md5: str, code_md5: str, model_md5: str = "m1") -> dict:
    return {
        "schema": "2.0",
        "stages": {
            "prepare": {
                "cmd": "python -m stages.prepare",
                "deps": [{"path": "tinyactions/data/prepare.py", "md5": code_md5}],
                "outs": [{"path": "data/prepared", "md5": prepared_md5 + ".dir"}],
            },
            "train@a": {"cmd": "x", "outs": [{"path": "models/a", "md5": model_md5 + ".dir"}]},
        },
    }


def test_only_output_hashes_count():
    assert check_outputs.changed_outputs(lock("p1", "c1"), lock("p1", "c2")) == []
    assert check_outputs.changed_outputs(lock("p1", "c1"), lock("p2", "c2")) == [
        "prepare: data/prepared p1.dir -> p2.dir"
    ]
    gone = lock("p1", "c1")
    del gone["stages"]["train@a"]
    assert check_outputs.changed_outputs(lock("p1", "c1"), gone) == []  # a removed stage is no reproduction


@pytest.fixture
def repo(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock("p1", "c1")))
    git("add", "dvc.lock")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lock")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_command_passes_a_code_move_and_names_a_changed_output(repo, capsys):
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock("p1", "c2")))
    assert check_outputs.main(["--base", "HEAD"]) == 0
    assert capsys.readouterr().out.strip() == "all 2 outputs equal those of HEAD"
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock("p1", "c2", model_md5="m2")))
    assert check_outputs.main([]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "train@a: models/a m1.dir -> m2.dir",
        "1 of 2 outputs differ from HEAD: rerun what is stale, do not commit",
    ]
    with pytest.raises(SystemExit, match=r"^check-outputs: --base: nosuch has no dvc.lock"):
        check_outputs.command(["--base", "nosuch"], "tinyactions check-outputs")


def test_an_output_changed_on_purpose_is_named_and_must_differ(repo, capsys):
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock("p2", "c2")))
    assert check_outputs.main(["--expect", "prepare:data/prepared"]) == 0
    assert capsys.readouterr().out.strip() == "all 1 outputs equal those of HEAD; the 1 expected to differ do"
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock("p1", "c2", model_md5="m2")))
    assert check_outputs.main(["--expect", "prepare:data/prepared"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "train@a: models/a m1.dir -> m2.dir",
        "prepare: data/prepared is equal, though --expect says it changes",
        "1 of 1 outputs differ from HEAD, 1 of 1 expected to differ do not: rerun what is stale, do not commit",
    ]
    with pytest.raises(SystemExit, match=r"^check-outputs: --expect: prepare:data/nope is no output of both locks"):
        check_outputs.command(["--expect", "prepare:data/nope"], "tinyactions check-outputs")
