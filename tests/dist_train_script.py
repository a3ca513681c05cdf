"""Run under torchrun by tests/train/test_run.py: a tiny 2-process training, then per-rank evidence."""

import hashlib
import json
import sys
from pathlib import Path

import torch

from tests.conftest import run_spec
from tinyactions.train.run import distributed_env, train

out, train_index, val_index, root = sys.argv[1:5]
spec = run_spec(
    name="tiny", lr=3e-3, epochs=2, input_size=24, batch_size=4, segments=4, warmup_epochs=1, restart_period=2
)  # global batch 4: 2 clips on each of the 2 processes
runner = train(spec, Path(out) / "models", Path(out) / "metrics", Path(out) / "logs", train_index, val_index, root)
rank, world = distributed_env()
model = runner.model.module if hasattr(runner.model, "module") else runner.model
# parameters (BatchNorm running stats are per replica between DDP's buffer broadcasts)
digest = hashlib.sha256(b"".join(v.detach().cpu().numpy().tobytes() for v in model.parameters())).hexdigest()
loader = runner.build_dataloader(runner.cfg.train_dataloader)
loader.sampler.set_epoch(0)
ids = [loader.dataset.get_data_info(i)["sample_id"] for i in loader.sampler]
Path(out, f"rank{rank}.json").write_text(
    json.dumps({"world": world, "digest": digest, "ids": ids, "backend": torch.distributed.get_backend()})
)
