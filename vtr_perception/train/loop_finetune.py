"""Fine-tune a reconstructor on loop crops (train/loop_crops.py): the inputs the perception pipeline gives it.

Same losses and weights as train/trainer.py (occupancy BCE, per-view volumes, pose head, error
head), AdamW, a cosine learning rate over the wall-time budget, batches of one view count, a
random quarter turn of the reference frame per item. The kept checkpoint is the one with the best
IoU at 0.4 on the validation crops (checked every ``val_every`` steps and at the end), averaged over
the mesh sources the crops come from, so that a source with more crops does not decide alone. The
learning curve goes next to the checkpoint (``<out>.json`` and a PNG, ``<out>.png``), and so does
``<out>.last.pt``, from which ``resume`` continues a run that was stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from vtr_perception.config import to_dict
from vtr_perception.data.sources import ObjectRecord
from vtr_perception.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from vtr_perception.train.loop_crops import LoopCropDataset, SameViewCountBatches
from vtr_perception.train.losses import reconstruction_losses


@dataclass
class LoopFineTuneConfig:
    base: str = field(default="models/reconstructor.pt", metadata={"help": "checkpoint to start from"})
    crops: tuple[str, ...] = field(default=(), metadata={"help": "training loop-crop files"})
    val_crops: tuple[str, ...] = field(default=(), metadata={"help": "validation loop-crop files (val split)"})
    out: str = field(default="runs/loop_finetune.pt", metadata={"help": "the best checkpoint goes here"})
    max_minutes: float = field(default=25.0, metadata={"help": "wall-time budget"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps as well (0: the budget alone)"})
    lr: float = field(default=5e-4, metadata={"help": "peak AdamW learning rate (cosine to 5% over the budget)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    batch_size: int = field(default=12, metadata={"help": "samples per batch"})
    view_weight: float = field(default=0.5, metadata={"help": "weight of the per-view volume BCE"})
    pose_weight: float = field(default=0.1, metadata={"help": "weight of the pose head loss"})
    error_weight: float = field(default=1.0, metadata={"help": "weight of the error head loss"})
    val_every: int = field(default=150, metadata={"help": "validate every this many steps"})
    seed: int = field(default=0, metadata={"help": "seed of batches and augmentation"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    resume: bool = field(
        default=False,
        metadata={"help": "continue from <out>.last.pt (written at every validation: weights, optimizer, step, "
                          "training time, history, best so far); max_minutes counts the time before"},
    )  # fmt: skip


@torch.no_grad()
def crop_iou_by_source(model: torch.nn.Module, dataset: LoopCropDataset, batch_size: int = 16) -> dict[str, float]:
    """Mean IoU at 0.4 of ``model`` over the samples of each mesh source in ``dataset``."""
    from vtr_perception.geometry.metrics import iou_batch

    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_sampler=SameViewCountBatches(dataset, batch_size, torch.Generator()))
    per_source: dict[str, list[float]] = {}
    for batch in loader:
        ious = iou_batch(model(batch["images"], batch["rotations"])["occupancy"].numpy(), batch["voxels"].numpy() > 0.5)
        for key, iou in zip(batch["object_id"], ious, strict=True):
            per_source.setdefault(ObjectRecord.source_of_key(key), []).append(float(iou))
    model.train(was_training)
    return {source: float(np.mean(values)) for source, values in sorted(per_source.items())}


def crop_iou(model: torch.nn.Module, dataset: LoopCropDataset, batch_size: int = 16) -> float:
    """IoU at 0.4 of ``model`` on ``dataset``: the mean over its mesh sources of each source's mean."""
    return _validate(model, dataset, batch_size=batch_size)["val_iou"]


def _validate(model: torch.nn.Module, dataset: LoopCropDataset, batch_size: int = 16, **entry) -> dict:
    by_source = crop_iou_by_source(model, dataset, batch_size)
    return {**entry, "val_iou": float(np.mean(list(by_source.values()))), "val_iou_by_source": by_source}


@dataclass
class LoopRun:
    """Where a fine-tune stands: what ``<out>.last.pt`` records and ``--resume`` restores."""

    step: int
    seconds_before: float  # training time of the runs this one resumes
    history: list[dict]
    best: float
    best_state: dict[str, torch.Tensor]


def last_path(config: LoopFineTuneConfig) -> Path:
    """The resumable state next to the checkpoint (written at every validation)."""
    return Path(config.out).with_suffix(".last.pt")


def _start(config: LoopFineTuneConfig, model, optimizer, val_set: LoopCropDataset) -> LoopRun:
    if config.resume and last_path(config).is_file():
        state = read_checkpoint(last_path(config))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return LoopRun(int(state["step"]), float(state["seconds"]), list(state["metrics"]["history"]),
                       float(state["metrics"]["best"]), state["best_state"])  # fmt: skip
    history = [_validate(model, val_set, step=0)]
    return LoopRun(0, 0.0, history, history[0]["val_iou"], _copy_state(model))


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _save_last(config: LoopFineTuneConfig, model, optimizer, run: LoopRun, seconds: float) -> None:
    save_checkpoint(last_path(config), model, metrics={"history": run.history, "best": run.best},
                    extra={"optimizer": optimizer.state_dict(), "step": run.step, "seconds": seconds,
                           "best_state": run.best_state})  # fmt: skip


def _record(run: LoopRun, model, val_set: LoopCropDataset, **entry) -> None:
    run.history.append(_validate(model, val_set, step=run.step, **entry))
    if run.history[-1]["val_iou"] > run.best:
        run.best, run.best_state = run.history[-1]["val_iou"], _copy_state(model)


def fine_tune(config: LoopFineTuneConfig) -> dict:
    """Fine-tune ``config.base`` on ``config.crops``; returns the metrics (also stored in the checkpoint)."""
    from tqdm import tqdm

    if not config.crops or not config.val_crops:
        raise ValueError("loop fine-tuning needs training crops and validation crops")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model, _, metadata = load_checkpoint(config.base)
    if not model.config.mode == "pose_aware":
        raise ValueError(f"loop crops carry camera rotations for a pose-aware model; {config.base} is "
                         f"{model.config.mode}")  # fmt: skip
    train_set = LoopCropDataset(list(config.crops), augment=True)
    val_set = LoopCropDataset(list(config.val_crops))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    run = _start(config, model, optimizer, val_set)
    generator = torch.Generator().manual_seed(config.seed + run.step)  # a resumed run draws new batches
    loader = DataLoader(train_set, batch_sampler=SameViewCountBatches(train_set, config.batch_size, generator))
    model.train()
    budget, start = 60.0 * config.max_minutes, time.monotonic() - run.seconds_before
    bar = tqdm(total=int(budget), initial=int(run.seconds_before), unit="s", desc="loop fine-tune",
               disable=not config.progress)  # fmt: skip
    done = False
    while not done:
        for batch in loader:
            elapsed = time.monotonic() - start
            if elapsed >= budget or (config.max_steps and run.step >= config.max_steps):
                done = True
                break
            lr = config.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * elapsed / budget)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            outputs = model(batch["images"], batch["rotations"])
            terms = reconstruction_losses(outputs, batch["voxels"], batch["azimuth"], batch["elevation"])
            loss = (terms["occupancy"] + config.view_weight * terms["view"] + config.pose_weight * terms["pose"]
                    + config.error_weight * terms["error"])  # fmt: skip
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.step += 1
            bar.update(int(time.monotonic() - start) - bar.n)
            if run.step % config.val_every == 0:
                _record(run, model, val_set, seconds=round(time.monotonic() - start), loss=float(loss.detach()))
                bar.set_postfix(val_iou=f"{run.history[-1]['val_iou']:.3f}")
                _save_last(config, model, optimizer, run, time.monotonic() - start)
    bar.close()
    if run.history[-1]["step"] != run.step:
        _record(run, model, val_set, seconds=round(time.monotonic() - start))
    _save_last(config, model, optimizer, run, time.monotonic() - start)
    model.load_state_dict(run.best_state)
    metrics = {"val_crop_iou": run.best, "val_crop_iou_base": run.history[0]["val_iou"], "steps": run.step,
               "train_samples": len(train_set), "val_samples": len(val_set), "history": run.history}  # fmt: skip
    base_metadata = {k: v for k, v in metadata.items() if k != "metrics"}
    save_checkpoint(
        Path(config.out), model, metrics=metrics, metadata={**base_metadata, "loop_finetune": to_dict(config)}
    )
    write_learning_curve(Path(config.out), metrics, config)
    return metrics


def write_learning_curve(out: Path, metrics: dict, config: LoopFineTuneConfig) -> None:
    """``<out>.json`` (the metrics and the config) and ``<out>.png`` (validation IoU per source against steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vtr_perception.io_utils import atomic_write, atomic_write_json

    atomic_write_json(out.with_suffix(".json"), {"checkpoint": str(out), "config": to_dict(config), **metrics})
    history = metrics["history"]
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for source in history[0]["val_iou_by_source"]:
        ax.plot(steps, [h["val_iou_by_source"].get(source, np.nan) for h in history], "o-", ms=3, label=source)
    ax.plot(steps, [h["val_iou"] for h in history], "k--", lw=1, label="mean over sources (selects)")
    ax.set_xlabel("steps")
    ax.set_ylabel("validation crop IoU@0.4")
    ax.set_title(f"train-loop from {Path(config.base).name}: best {metrics['val_crop_iou']:.3f}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(out.with_suffix(".png"), lambda p: fig.savefig(p, dpi=80, format="png"))
    plt.close(fig)
