"""Training: the recipe learns, every epoch is kept and loads, and a killed run resumes exactly."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import make_prepared, run_spec
from tinyactions.core.files import file_digest
from tinyactions.train.recipes import model_config, runner_config
from tinyactions.train.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]


def tiny_spec(**kw) -> RunSpec:
    base = dict(
        name="tiny",
        backbone="ircsn",
        input="lr",
        loss="bce",
        lr=3e-3,
        epochs=3,
        input_size=24,
        batch_size=4,
        segments=4,
        warmup_epochs=1,
        restart_period=2,
    )
    return run_spec(**{**base, **kw})


@pytest.mark.parametrize("backbone", ["ircsn", "uniformer"])
def test_loss_decreases_when_overfitting_a_tiny_set(backbone):
    from mmaction.structures import ActionDataSample

    from tinyactions.train.registry import build_model

    torch.manual_seed(0)
    model = build_model(model_config(tiny_spec(backbone=backbone, input_size=32)))
    model.cls_head.dropout = torch.nn.Identity()
    inputs = torch.rand(4, 1, 3, 4, 32, 32) * 255
    samples = []
    for i in range(4):
        s = ActionDataSample()
        s.set_gt_label(torch.eye(26)[i * 3].long())
        samples.append(s)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        data = model.data_preprocessor({"inputs": list(inputs), "data_samples": samples}, training=True)
        loss = model(**data, mode="loss")["loss_cls"]
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    # the best constant prediction (1/4 positives in 4 classes) scores 4 * H(0.25) / 26 = 0.0865
    assert losses[-1] < 0.0865 and losses[-1] < 0.15 * losses[0], losses[::10]


def test_runner_config_schedules_warmup_then_restarts():
    cfg = runner_config(tiny_spec(epochs=7, warmup_epochs=1, restart_period=4), "w", "t", "v", "r", "l")
    warm, cosine = cfg["param_scheduler"]
    assert (warm["type"], warm["end"]) == ("LinearLR", 1)
    assert cosine["type"] == "CosineRestartLR" and cosine["periods"] == [4, 2] and cosine["end"] == 7
    assert (
        cfg["default_hooks"]["checkpoint"]["interval"] == 1
        and cfg["default_hooks"]["checkpoint"]["max_keep_ckpts"] == -1
    )


def run_stage_script(workdir: Path, prepared: dict, spec_kwargs: dict, models: Path, workers: int) -> subprocess.Popen:
    code = (
        "import sys; from pathlib import Path\n"
        "from tests.conftest import run_spec\nfrom tinyactions.train.run import train\n"
        f"spec = run_spec(**{spec_kwargs!r})\n"
        f"train(spec, Path({str(models)!r}), Path({str(models / 'metrics')!r}), Path({str(models / 'logs')!r}), "
        f"{prepared['train']!r}, "
        f"{prepared['val']!r}, {prepared['root']!r}, workers={workers})\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.slow
def test_every_epoch_is_kept_and_a_killed_run_resumes_to_the_same_weights(tmp_path):
    """... also when the rerun executes differently: a data-worker count changed after the kill resumes
    the partial run (not epoch 0) and still ends with the uninterrupted run's weights."""
    prepared = make_prepared(tmp_path / "data")
    kwargs = dict(
        name="tiny",
        backbone="ircsn",
        input="lr",
        loss="bce",
        lr=3e-3,
        epochs=3,
        input_size=24,
        batch_size=4,
        segments=4,
        warmup_epochs=1,
        restart_period=2,
    )
    # uninterrupted
    full = run_stage_script(tmp_path, prepared, kwargs, tmp_path / "a", workers=1)
    out, _ = full.communicate(timeout=600)
    assert full.returncode == 0, out[-3000:]
    final = tmp_path / "a" / "tiny"
    assert sorted(p.name for p in final.glob("epoch_*.pth")) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    assert not (tmp_path / "a" / ".partial" / "tiny").exists()
    for n in (1, 2, 3):
        ckpt = torch.load(final / f"epoch_{n}.pth", map_location="cpu", weights_only=False)
        assert ckpt["meta"]["epoch"] == n and "cls_head.fc_cls.weight" in ckpt["state_dict"]
    metrics = (tmp_path / "a" / "metrics" / "tiny" / "plots" / "metrics" / "val" / "f1.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in metrics[1:]] == ["1", "2", "3"]

    # killed once a complete epoch is saved, then rerun: resumes from the last complete epoch
    killed = run_stage_script(tmp_path, prepared, kwargs, tmp_path / "b", workers=1)
    partial = tmp_path / "b" / ".partial"
    deadline = time.time() + 300
    while not list(partial.glob("tiny-*/last_checkpoint")) and time.time() < deadline and killed.poll() is None:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert not (tmp_path / "b" / "tiny").exists(), "a killed run must not publish"
    marker = next(partial.glob("tiny-*/last_checkpoint"))
    done = int(marker.read_text().strip().split("epoch_")[-1][:-4])
    marker.write_text("")  # as a kill while mmengine writes it leaves it: the run still resumes
    resumed = run_stage_script(tmp_path, prepared, kwargs, tmp_path / "b", workers=0)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out[-3000:]
    assert int(re.search(r"resumed epoch: (\d+)", out.lower())[1]) >= done, out[-2000:]
    a = torch.load(final / "epoch_3.pth", map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "b" / "tiny" / "epoch_3.pth", map_location="cpu", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key

    # the published run is the same bytes (no times, hosts or paths inside), however it got there; the
    # Runner's timestamped logs lie beside it
    def digests(folder):
        return {str(p.relative_to(folder)): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}

    published = digests(final)
    assert sorted(published) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth", "run.json"]
    assert published == digests(tmp_path / "b" / "tiny")
    live = digests(tmp_path / "a" / "metrics" / "tiny")  # the stage's other output: dvclive's metrics
    assert "metrics.json" in live and live == digests(tmp_path / "b" / "metrics" / "tiny")
    assert any((tmp_path / "a" / "logs" / "tiny").iterdir()) and not list(partial.glob("tiny-*"))


def test_global_batch_is_split_over_processes_with_accumulation():
    """The global batch is a result: the same clips per update whatever the process count."""
    from tinyactions.train.recipes import split_batch

    assert split_batch(8, 1) == (8, 1) and split_batch(8, 2) == (4, 1) and split_batch(8, 2, 2) == (2, 2)
    with pytest.raises(ValueError, match="train.batch_size: 8 is not 3 processes"):
        split_batch(8, 3)
    cfg = runner_config(tiny_spec(batch_size=8), "w", "t", "v", "r", "l", processes=2, batch_per_process=2)
    assert cfg["train_dataloader"]["batch_size"] == 2 and cfg["optim_wrapper"]["accumulative_counts"] == 2
    single = runner_config(tiny_spec(batch_size=8), "w", "t", "v", "r", "l")
    assert single["train_dataloader"]["batch_size"] == 8 and "accumulative_counts" not in single["optim_wrapper"]


@pytest.mark.slow
def test_two_process_gloo_run_shards_data_and_keeps_replicas_in_sync(tmp_path):
    import json

    prepared = make_prepared(tmp_path / "data", n_train=10, n_val=4)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "tests" / "dist_train_script.py"),
        str(out),
        prepared["train"],
        prepared["val"],
        prepared["root"],
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["backend"] == "gloo" for r in ranks)
    assert ranks[0]["digest"] == ranks[1]["digest"], "replicas diverged"
    ids0, ids1 = set(ranks[0]["ids"]), set(ranks[1]["ids"])
    assert not ids0 & ids1 and len(ids0 | ids1) == 10, (ids0, ids1)
    # only rank 0 writes: one published run, one dvclive folder
    assert sorted(p.name for p in (out / "models" / "tiny").glob("epoch_*.pth")) == ["epoch_1.pth", "epoch_2.pth"]
    assert not list((out / "models" / ".partial").glob("*"))
    assert json.loads((out / "metrics" / "tiny" / "metrics.json").read_text())["step"] == 2


def test_paper_preset_builds_the_published_backbones():
    from tinyactions.train.registry import build_model

    for backbone, published, channels in (("ircsn", 28.9e6, 2048), ("uniformer", 49.6e6, 512)):
        model = build_model(model_config(tiny_spec(backbone=backbone, preset="paper", input_size=224)))
        n_backbone = sum(p.numel() for p in model.backbone.parameters())
        n_head = sum(p.numel() for p in model.cls_head.parameters())
        assert n_backbone == pytest.approx(published, rel=0.01)
        assert n_head == channels * 26 + 26


# where the paper preset departs from the model-zoo config on purpose: UniFormer's drop path (the seed's);
# ir-CSN's BatchNorm is trained, not frozen (ours; the zoo's K400 run froze it)
DEPARTURES = {"uniformer": {"drop_path_rate": 0.4}, "ircsn": {"norm_eval": False, "bn_frozen": False}}


@pytest.mark.parametrize("backbone", ["ircsn", "uniformer"])
def test_paper_backbone_is_the_model_zoo_network(backbone):
    """The paper preset is the network its Kinetics-400 weights come from: every key of the model-zoo
    config in the wheel (but DEPARTURES), and with the same weights the same features. ir-CSN
    without pool2 keeps the temporal size: 16 frames -> 2 feature frames (with pool2 it would be 1)."""
    from tinyactions.devtools import zoo
    from tinyactions.train.registry import build_model

    published = zoo.model_config(backbone)["backbone"]
    ours = model_config(tiny_spec(backbone=backbone, preset="paper", input_size=224))["backbone"]
    assert {k: ours.get(k) for k in published} == {**published, **DEPARTURES[backbone]}, ours
    if backbone == "ircsn":
        reference = zoo.build("ircsn", seed=3)[""].backbone
        model = build_model(model_config(tiny_spec(backbone=backbone, preset="paper", input_size=224))).backbone
        model.load_state_dict(reference.state_dict())
        reference.eval()  # in eval mode frozen and trained BatchNorm compute the same
        model.eval()
        x = torch.randn(1, 3, 16, 64, 64)
        with torch.no_grad():
            a, b = reference(x), model(x)
        assert a.shape == b.shape == (1, 2048, 2, 2, 2) and torch.equal(a, b)


def test_pretrained_checkpoint_initialises_the_backbone_but_not_the_head(tmp_path):
    """A Kinetics-400 checkpoint (400-way head) loads into a 26-way model: backbone weights are taken,
    the mismatched head is left at its initialisation."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from tinyactions.train.registry import build_model

    source_spec = tiny_spec()
    source_cfg = model_config(source_spec)
    source_cfg["cls_head"]["num_classes"] = 400
    torch.manual_seed(1)
    source = build_model(source_cfg)
    torch.save({"state_dict": source.state_dict(), "meta": {}}, tmp_path / "k400.pth")
    prepared = make_prepared(tmp_path / "data", n_train=4, n_val=2)
    spec = tiny_spec(pretrained=str(tmp_path / "k400.pth"))
    cfg = runner_config(
        spec, str(tmp_path / "work"), prepared["train"], prepared["val"], prepared["root"], str(tmp_path / "live")
    )
    runner = Runner.from_cfg(Config(cfg))
    runner.load_or_resume()
    loaded = runner.model.state_dict()
    assert torch.equal(loaded["backbone.conv1.conv.weight"], source.state_dict()["backbone.conv1.conv.weight"])
    assert loaded["cls_head.fc_cls.weight"].shape == (26, 512)


class _FakeRunner:
    """What EpochLogHook reads of mmengine's Runner; ``val_loop.run`` calls the hook's after_val_epoch."""

    def __init__(self, hook, val_f1):
        from types import SimpleNamespace

        self.epoch = 0
        self.lr = 0.1
        self.optim_wrapper = SimpleNamespace(get_lr=lambda: {"lr": [self.lr]})
        self.val_loop = SimpleNamespace(run=lambda: hook.after_val_epoch(self, {"val/f1": val_f1(self.epoch)}))


def _epoch_log_run(live_dir, kill_at=None):
    """Three epochs as mmengine calls the hook; ``kill_at=(epoch, point)`` drops the process there and
    resumes a fresh hook from the last saved checkpoint, as train() does."""
    from tinyactions.train.hooks import EpochLogHook

    points = ["iter", "train_epoch_end", "saved", "validated"]
    hook, saved, epoch = EpochLogHook(str(live_dir)), None, 0
    runner = _FakeRunner(hook, lambda e: 0.1 * e)
    while epoch < 3:
        for point in points:
            if point == "iter":
                for i in range(2):
                    hook.after_train_iter(runner, i, outputs={"loss": torch.tensor(float(epoch * 10 + i))})
            elif point == "train_epoch_end":
                runner.lr = 0.1 / (epoch + 2)  # the scheduler has stepped
                hook.after_train_epoch(runner)
            elif point == "saved":
                saved = {"meta": {"epoch": epoch + 1}}
                hook.before_save_checkpoint(runner, saved)
                runner.epoch = epoch + 1  # mmengine counts the epoch once its training has ended
            else:
                runner.val_loop.run()
            if kill_at == (epoch + 1, point):
                kill_at = None
                hook = EpochLogHook(str(live_dir))  # a fresh process
                runner = _FakeRunner(hook, lambda e: 0.1 * e)
                if saved is None:
                    epoch = 0
                    break
                runner.epoch = epoch = saved["meta"]["epoch"]
                runner.lr = 0.1 / (epoch + 1)
                hook.after_load_checkpoint(runner, saved)
                hook.before_train(runner)
                break
        else:
            epoch += 1
    return {str(p.relative_to(live_dir)): p.read_bytes() for p in sorted(live_dir.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("point", ["iter", "train_epoch_end", "saved", "validated"])
@pytest.mark.parametrize("epoch", [1, 2])
def test_epoch_log_of_a_run_killed_anywhere_matches_the_uninterrupted_one(tmp_path, epoch, point):
    """Killed between saving epoch N and validating it (mmengine validates after saving), the resumed
    run validates epoch N again: its log has every epoch once, as if nothing had stopped."""
    reference = _epoch_log_run(tmp_path / "a")
    f1 = reference["plots/metrics/val/f1.tsv"].decode().splitlines()
    assert f1 == ["step\tf1", "1\t0.1", "2\t0.2", "3\t0.30000000000000004"]
    loss = reference["plots/metrics/train/loss.tsv"].decode().splitlines()
    assert loss == ["step\tloss", "1\t0.5", "2\t10.5", "3\t20.5"]
    assert _epoch_log_run(tmp_path / "b", kill_at=(epoch, point)) == reference


def test_only_the_latest_checkpoint_keeps_the_resume_state(tmp_path):
    """Earlier epochs are rewritten with weights and meta only (a third of the bytes with AdamW); the
    latest keeps the optimizer for resume; a resumed run slims what a kill left fat."""
    from types import SimpleNamespace

    from tinyactions.train.hooks import ResumeStateOnlyInLatestHook

    model = torch.nn.Linear(64, 64)
    optim = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 64)).sum().backward()
    optim.step()
    for epoch in (1, 2, 3):
        torch.save(
            {
                "meta": {"epoch": epoch},
                "state_dict": model.state_dict(),
                "optimizer": optim.state_dict(),
                "param_schedulers": [],
                "message_hub": {},
            },
            tmp_path / f"epoch_{epoch}.pth",
        )
    fat = (tmp_path / "epoch_3.pth").stat().st_size
    hook = ResumeStateOnlyInLatestHook()
    hook.after_train_epoch(SimpleNamespace(work_dir=str(tmp_path), epoch=1))  # epoch_2 just saved
    keys = {e: set(torch.load(tmp_path / f"epoch_{e}.pth", weights_only=False)) for e in (1, 2, 3)}
    assert keys[1] == {"meta", "state_dict"} and "optimizer" in keys[2] and "optimizer" in keys[3]
    slim = torch.load(tmp_path / "epoch_1.pth", weights_only=False)
    assert slim["meta"] == {"epoch": 1} and all(
        torch.equal(slim["state_dict"][k], v) for k, v in model.state_dict().items()
    )
    assert (tmp_path / "epoch_1.pth").stat().st_size < fat / 2.5
    hook.before_train(SimpleNamespace(work_dir=str(tmp_path), epoch=3))  # resumed from epoch 3
    assert set(torch.load(tmp_path / "epoch_2.pth", weights_only=False)) == {"meta", "state_dict"}
    assert "optimizer" in torch.load(tmp_path / "epoch_3.pth", weights_only=False)


def test_stale_work_folders_are_matched_by_the_exact_run_name(tmp_path):
    """Training run x removes x's folders of other fingerprints, never those of a run named x-lr."""
    from tinyactions.train.run import partial_run, remove_stale_work

    key, other = "0123456789abcdef", "fedcba9876543210"
    for name in (f"x-{key}", f"x-{other}", f"x-{other}.publish", f"x-lr-{other}", f"xy-{other}", "notes"):
        (tmp_path / name).mkdir()
    assert partial_run(f"x-lr-{other}") == "x-lr" and partial_run("notes") is None
    remove_stale_work(tmp_path, "x", keep=tmp_path / f"x-{key}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"x-{key}", f"x-lr-{other}", f"xy-{other}", "notes"])


def test_a_cut_last_checkpoint_names_the_newest_whole_epoch(tmp_path):
    """mmengine writes last_checkpoint with a plain open() after saving: killed in that window the file is
    empty. The newest epoch that holds resume state and reads whole is named instead (a file cut while
    saving is passed over); without one the run starts afresh."""
    from tinyactions.train.run import resumable

    state = {"meta": {"epoch": 1}, "state_dict": {"w": torch.ones(2)}, "optimizer": {"state": {}}}
    torch.save({"meta": {}, "state_dict": state["state_dict"]}, tmp_path / "epoch_1.pth")  # slimmed
    torch.save(state, tmp_path / "epoch_2.pth")
    torch.save(state, tmp_path / "epoch_3.pth")
    whole = (tmp_path / "epoch_3.pth").read_bytes()
    (tmp_path / "epoch_3.pth").write_bytes(whole[: len(whole) // 2])  # killed while saving epoch 3
    marker = tmp_path / "last_checkpoint"
    marker.write_text("")
    assert resumable(tmp_path) and marker.read_text() == str(tmp_path / "epoch_2.pth")
    assert resumable(tmp_path)  # a whole file is left alone
    for epoch in (2, 3):
        (tmp_path / f"epoch_{epoch}.pth").unlink()
    marker.write_text("")
    assert not resumable(tmp_path) and not marker.exists()


def test_a_runs_fingerprint_is_what_trains_not_where_the_code_lives(tmp_path):
    """Moving the registry module (custom_imports) keeps a run's fingerprint, so run.json and resumable
    work survive a code move; a training setting or an input's bytes change it."""
    from tinyactions.train.run import run_fingerprint

    data = tmp_path / "train.parquet"
    data.write_bytes(b"a")
    cfg = runner_config(run_spec(), "w", str(data), str(data), "root", "live")
    key = run_fingerprint(cfg, 1, [str(data)])
    moved = {**cfg, "custom_imports": {"imports": ["tinyactions.elsewhere"], "allow_failed_imports": False}}
    assert run_fingerprint(moved, 1, [str(data)]) == key
    assert (
        run_fingerprint(runner_config(run_spec(lr=0.5), "w", str(data), str(data), "root", "live"), 1, [str(data)])
        != key
    )
    assert run_fingerprint(cfg, 2, [str(data)]) != key
    data.write_bytes(b"b")
    assert run_fingerprint(cfg, 1, [str(data)]) != key
