"""The paper's training recipe as mmengine configs built in code.

Two presets share one code path: ``paper`` (ir-CSN-ResNet152 with head dropout 0.5, UniFormer-B with
drop path 0.4, 224 px input) and ``demo`` (the same backbone classes shrunk to run on 2 CPU cores).
Everything else is the paper's: Recognizer3D, a 26-way multi-label head (sigmoid scores), BCE or
Asymmetric Loss, AdamW, linear warmup then cosine annealing with warm restarts, uniform 16-segment
sampling, balance copies from the prepared index, optional Kinetics-400 initialisation.
"""

from __future__ import annotations

import copy

from tinyactions.challenge.annotations import NUM_CLASSES
from tinyactions.core import precision as numeric
from tinyactions.core.errors import SettingsError
from tinyactions.train import workers as data_workers
from tinyactions.train.spec import RunSpec

IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
UNIFORMER_NORM = dict(mean=[114.75, 114.75, 114.75], std=[57.375, 57.375, 57.375])  # its K400 weights

# backbone config, feature channels, head dropout, input normalisation. The paper backbones are the
# networks their Kinetics-400 checkpoints were trained as: mmaction2's model-zoo configs (in the wheel,
# see tinyactions.devtools.zoo; tests/train/test_run.py checks every key), except UniFormer's drop path 0.4 (the
# paper's) and ir-CSN's BatchNorm, trained here (ours; the zoo's Kinetics-400 run froze it)
BACKBONES = {
    ("ircsn", "paper"): (
        dict(
            type="ResNet3dCSN",
            depth=152,
            bottleneck_mode="ir",
            pretrained=None,
            pretrained2d=False,
            with_pool2=False,
            zero_init_residual=False,
            norm_eval=False,
            bn_frozen=False,
        ),
        2048,
        0.5,
        IMAGENET,
    ),
    ("ircsn", "demo"): (
        dict(
            type="ResNet3dCSN",
            depth=50,
            bottleneck_mode="ir",
            pretrained=None,
            base_channels=16,
            stage_blocks=(2, 2, 2, 2),
            norm_eval=False,
        ),
        512,
        0.5,
        IMAGENET,
    ),
    ("uniformer", "paper"): (
        dict(
            type="UniFormer",
            depth=[5, 8, 20, 7],
            embed_dim=[64, 128, 320, 512],
            head_dim=64,
            drop_path_rate=0.4,
            pretrained2d=False,
        ),
        512,
        0.0,
        UNIFORMER_NORM,
    ),
    ("uniformer", "demo"): (
        dict(
            type="UniFormer",
            depth=[1, 1, 2, 1],
            embed_dim=[32, 64, 128, 256],
            head_dim=32,
            drop_path_rate=0.1,
            pretrained2d=False,
        ),
        256,
        0.0,
        UNIFORMER_NORM,
    ),
}


def split_batch(global_batch: int, processes: int, per_process: int | None = None) -> tuple[int, int]:
    """(clips per process and step, steps accumulated per update) so that every update sees
    ``global_batch`` clips whatever the process count: the result does not depend on the hardware."""
    per_process = per_process or global_batch // processes
    accumulate, rest = divmod(global_batch, max(per_process, 1) * processes)
    if rest or not accumulate or not per_process:
        raise SettingsError(
            f"train.batch_size: {global_batch} is not {processes} processes x {per_process} clips "
            f"x a whole number of accumulated steps"
        )
    return per_process, accumulate


def model_config(spec: RunSpec) -> dict:
    backbone, channels, dropout, norm = BACKBONES[(spec.backbone, spec.preset)]
    if spec.loss == "bce":
        loss = dict(type="BCELossWithLogits")
    elif spec.loss == "asl":
        loss = dict(type="AsymmetricLoss", **spec.asl)
    else:
        loss = dict(type="DistillationLoss", alpha=spec.kd_alpha)
    return dict(
        type="Recognizer3D",
        backbone=copy.deepcopy(backbone),
        cls_head=dict(
            type="MultiLabelHead",
            num_classes=NUM_CLASSES,
            in_channels=channels,
            dropout_ratio=dropout,
            loss_cls=loss,
            average_clips=None,
        ),
        data_preprocessor=dict(type="ActionDataPreprocessor", format_shape="NCTHW", **norm),
    )


def pipeline(spec: RunSpec, test_mode: bool, views: int = 1) -> list[dict]:
    return [
        dict(
            type="LoadTinyClip",
            mode=spec.sampling,
            segments=spec.segments,
            interval=spec.dense_interval,
            views=views,
            test_mode=test_mode,
            seed=spec.seed,
        ),
        dict(type="Resize", scale=(spec.input_size, spec.input_size), keep_ratio=False),
        dict(type="FormatShape", input_format="NCTHW"),
        dict(type="PackActionInputs", meta_keys=("sample_id",), algorithm_keys=("teacher_scores",)),
    ]


def dataloader(
    spec: RunSpec,
    ann_file: str,
    video_root: str,
    train: bool,
    teacher_file: str | None = None,
    views: int = 1,
    workers: int = 0,
    batch_size: int | None = None,
) -> dict:
    """``batch_size``: clips per process and step (default: the run's global batch, for one process)."""
    return dict(
        batch_size=batch_size or spec.batch_size,
        num_workers=workers,
        persistent_workers=False,  # workers must see the dataset's epoch (see ExactResumeHook)
        # workers start from a forkserver, never forked from the trainer (see tinyactions.train.workers)
        **({"multiprocessing_context": data_workers.START_METHOD} if workers else {}),
        drop_last=train,  # a last batch of one clip breaks BatchNorm once features pool to 1x1x1
        sampler=dict(type="DefaultSampler", shuffle=train),
        dataset=dict(
            type="TinyVideoDataset",
            ann_file=ann_file,
            video_root=video_root,
            test_mode=not train,
            teacher_file=teacher_file,
            balance_copies=spec.balance and train,
            pipeline=pipeline(spec, test_mode=not train, views=views),
        ),
    )


def runner_config(
    spec: RunSpec,
    work_dir: str,
    train_index: str,
    val_index: str,
    video_root: str,
    live_dir: str,
    teacher_file: str | None = None,
    launcher: str = "none",
    workers: int = 0,
    processes: int = 1,
    batch_per_process: int | None = None,
) -> dict:
    """A complete mmengine Runner config for one run. ``workers`` (data-loading processes), ``processes``
    and ``batch_per_process`` are execution settings: the global batch stays ``spec.batch_size``."""
    batch, accumulate = split_batch(spec.batch_size, processes, batch_per_process)
    device = numeric.training_device()
    warmup = min(spec.warmup_epochs, spec.epochs)
    schedulers = []
    if warmup > 0:
        schedulers.append(
            dict(
                type="LinearLR",
                start_factor=spec.warmup_start_factor,
                by_epoch=True,
                begin=0,
                end=warmup,
                convert_to_iter_based=True,
            )
        )
    if spec.epochs > warmup:
        span = spec.epochs - warmup
        period = max(1, min(spec.restart_period, span))
        periods = [period] * (span // period) + ([span % period] if span % period else [])
        schedulers.append(
            dict(
                type="CosineRestartLR",
                periods=periods,
                restart_weights=[1.0] * len(periods),
                eta_min=spec.lr * spec.min_lr_ratio,
                by_epoch=True,
                begin=warmup,
                end=spec.epochs,
                convert_to_iter_based=True,
            )
        )
    cfg = dict(
        default_scope="mmaction",
        custom_imports=dict(imports=["tinyactions.train.registry"], allow_failed_imports=False),
        model=model_config(spec),
        work_dir=work_dir,
        train_dataloader=dataloader(
            spec, train_index, video_root, train=True, teacher_file=teacher_file, workers=workers, batch_size=batch
        ),
        val_dataloader=dataloader(spec, val_index, video_root, train=False, workers=workers, batch_size=batch),
        val_evaluator=dict(type="MultiLabelF1Metric"),
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=spec.epochs, val_interval=1),
        val_cfg=dict(type="ValLoop"),
        optim_wrapper=dict(
            **numeric.optim_wrapper(numeric.resolve(spec.precision, "train", device), device),
            optimizer=dict(type="AdamW", lr=spec.lr, weight_decay=spec.weight_decay),
            clip_grad=dict(max_norm=spec.grad_clip, norm_type=2) if spec.grad_clip else None,
            **({"accumulative_counts": accumulate} if accumulate > 1 else {}),
        ),
        param_scheduler=schedulers,
        default_hooks=dict(
            runtime_info=dict(type="RuntimeInfoHook"),
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=20, ignore_last=False),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=-1, save_last=True),
            sampler_seed=dict(type="DistSamplerSeedHook"),
        ),
        custom_hooks=[
            dict(type="ExactResumeHook"),
            dict(type="EpochLogHook", live_dir=live_dir),
            dict(type="ResumeStateOnlyInLatestHook"),
        ],
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
            dist_cfg=dict(backend="nccl"),
        ),
        log_processor=dict(type="LogProcessor", window_size=20, by_epoch=True),
        log_level="INFO",
        randomness=dict(seed=spec.seed, deterministic=False),
        launcher=launcher,
        load_from=spec.pretrained,
        resume=False,
    )
    return cfg
