"""Train the reconstructor: one readable loop on HF Accelerate (CPU, one GPU or many via `accelerate launch`).

    for each epoch:
        for each batch (random view count 1..max_views, so any V works at inference):
            outputs = model(images, rotations)      # rotations ignored in canonical mode
            loss = occupancy + w_view * view + w_pose * pose + w_error * error
            AdamW step; CSV row; progress bar
        validation IoU at 0.4 on the val split (fixed views); checkpoint last.pt (+ best.pt)

Checkpoints carry the model config, the training config, metrics and the optimizer state;
``resume=True`` continues from ``<out_dir>/last.pt``. ``max_minutes`` stops cleanly at a
wall-time budget (a checkpoint is written when it does).
"""

from __future__ import annotations

import csv
import logging
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader

from vtr_perception.config import from_mapping, to_dict
from vtr_perception.models import Reconstructor, ReconstructorConfig, read_checkpoint, save_checkpoint
from vtr_perception.train.losses import reconstruction_losses

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training of the reconstructor (data, optimisation, budget, output)."""

    caches: tuple[str, ...] = field(
        default=(".cache/data/pybullet64", ".cache/data/procedural64"),
        metadata={
            "help": "dataset cache directories (vtr-perception data build) to train on together; one listed k times "
            "is drawn k times as often in training (validated once)"
        },
    )
    view_set: str = field(
        default="aligned",
        metadata={"help": "view set(s) of the training views, comma-separated (each object once per view set)"},
    )
    max_views: int = field(default=3, metadata={"help": "each batch uses a random number of views in 1..max_views"})
    batch_size: int = field(default=12, metadata={"help": "objects per batch"})
    epochs: int = field(default=30, metadata={"help": "passes over the training objects"})
    max_minutes: float | None = field(default=None, metadata={"help": "stop (with a checkpoint) after this wall time"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate (cosine decay over epochs)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    occupancy_loss: str = field(default="bce", metadata={"help": "occupancy loss: bce, dice or bce+dice"})
    view_weight: float = field(default=0.5, metadata={"help": "weight of the per-view (warped) volume BCE"})
    pose_weight: float = field(default=0.1, metadata={"help": "weight of the pose head loss"})
    error_weight: float = field(default=1.0, metadata={"help": "weight of the error head loss"})
    val_objects: int = field(
        default=64,
        metadata={
            "help": "validation objects per cache and view set each epoch (0: no validation); the score that picks "
            "best.pt is the mean over caches and view sets, so every source counts the same"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of weights, batches and view draws"})
    num_workers: int = field(default=0, metadata={"help": "data loader worker processes"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})
    out_dir: str = field(default="runs/reconstructor", metadata={"help": "checkpoints and log.csv go here"})
    init_from: str | None = field(
        default=None,
        metadata={
            "help": "fine-tune: start from this checkpoint's weights (its architecture must match the model "
            "config) with a fresh optimizer and learning-rate schedule; ignored when resuming"
        },
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})


def view_sets(config: TrainConfig) -> list[str]:
    return [v.strip() for v in config.view_set.split(",") if v.strip()]


def make_datasets(config: TrainConfig, split: str, *, num_views: int, fixed: bool, seed: int) -> dict:
    """One ViewDataset per (cache, view set), keyed '<cache name>/<view set>' ('#k' on a repeat; none in val)."""
    from vtr_perception.data.cache import standard_build_command
    from vtr_perception.data.dataset import ViewDataset

    if not config.caches:
        raise ValueError("TrainConfig.caches is empty: give at least one dataset cache directory")
    parts = {}
    caches = config.caches if split == "train" else tuple(dict.fromkeys(config.caches))
    for k, cache in enumerate(caches):
        if not (Path(cache) / "index.json").is_file():
            command = standard_build_command(cache) or "vtr-perception data build"
            raise ValueError(f"dataset cache {cache} has no index.json (build it with `{command}`)")
        for vs in view_sets(config):
            repeat = f"#{k}" if cache in caches[:k] else ""
            parts[f"{Path(cache).name}{repeat}/{vs}"] = ViewDataset(
                cache, split=split, view_set=vs, num_views=num_views, fixed=fixed, seed=seed
            )
    return parts


def make_dataset(config: TrainConfig, split: str, *, num_views: int, fixed: bool, seed: int):
    return ConcatDataset(list(make_datasets(config, split, num_views=num_views, fixed=fixed, seed=seed).values()))


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader, *, pose_aware: bool, limit: int, device) -> float:
    """Mean IoU at 0.4 over up to ``limit`` objects."""
    from vtr_perception.geometry.metrics import iou_batch

    model.eval()
    ious: list[np.ndarray] = []
    for batch in loader:
        rotations = batch["rotations"].to(device) if pose_aware else None
        occupancy = model(batch["images"].to(device), rotations)["occupancy"]
        ious.append(iou_batch(occupancy.float().cpu().numpy(), batch["voxels"].numpy() > 0.5))
        if sum(len(x) for x in ious) >= limit:
            break
    model.train()
    return float(np.concatenate(ious)[:limit].mean()) if ious else float("nan")


def learning_rate(config: TrainConfig, epochs_done: float, seconds: float) -> float:
    """Cosine decay over the run, which ends at ``epochs`` or at ``max_minutes``, whichever comes first."""
    progress = epochs_done / max(1, config.epochs)
    if config.max_minutes:
        progress = max(progress, seconds / (60.0 * config.max_minutes))
    return config.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


LOG_COLUMNS = ["epoch", "step", "views", "loss", "occupancy", "view", "pose", "error", "lr", "seconds", "val_iou"]


def make_loaders(config: TrainConfig) -> tuple[DataLoader, dict[str, DataLoader]]:
    """The shuffled training loader (``max_views`` views an object) and the fixed validation loaders (per cache and
    view set; none without validation)."""
    train_set = make_dataset(config, "train", num_views=config.max_views, fixed=False, seed=config.seed)
    if len(train_set) == 0:
        raise ValueError(f"no training objects in {config.caches}")
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(train_set) > config.batch_size,
        num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),
    )
    if config.val_objects <= 0:
        return loader, {}
    val_sets = make_datasets(config, "val", num_views=min(3, config.max_views), fixed=True, seed=config.seed + 1)
    return loader, {
        k: DataLoader(v, batch_size=config.batch_size, shuffle=False) for k, v in val_sets.items() if len(v)
    }


@dataclass
class TrainState:
    """Where training stands: what ``last.pt`` records and ``--resume`` restores."""

    epoch: int = 0  # the next epoch to run
    step: int = 0
    best_iou: float = -1.0
    seconds_before: float = 0.0  # training time of the runs this one resumes


def restore(model: Reconstructor, optimizer, path: Path) -> TrainState:
    """Load model and optimizer from a ``last.pt`` and say where to go on."""
    state = read_checkpoint(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    log.info("resumed from %s at epoch %d (step %d)", path, int(state["epoch"]) + 1, int(state["step"]))
    return TrainState(
        epoch=int(state["epoch"]) + 1,
        step=int(state["step"]),
        best_iou=float(state["metrics"].get("best_val_iou", -1.0)),
        seconds_before=float(state["metadata"].get("train_seconds", 0.0)),
    )


def train_step(model, optimizer, accelerator, batch: dict, views: int, config: TrainConfig, pose_aware: bool):
    """One optimisation step on the first ``views`` views of each object; the loss and its terms as floats."""
    images, rotations = batch["images"][:, :views], batch["rotations"][:, :views]
    outputs = model(images, rotations if pose_aware else None)
    terms = reconstruction_losses(
        outputs, batch["voxels"], batch["azimuth"][:, :views], batch["elevation"][:, :views], kind=config.occupancy_loss
    )
    loss = (
        terms["occupancy"]
        + config.view_weight * terms["view"]
        + config.pose_weight * terms["pose"]
        + config.error_weight * terms["error"]
    )
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(loss)
    optimizer.step()
    return float(loss.detach()), {k: float(t.detach()) for k, t in terms.items()}


def save_epoch(accelerator, model, optimizer, out_dir: Path, state: TrainState, metrics: dict, metadata: dict) -> None:
    """``last.pt`` after every epoch (with the optimizer, for --resume), ``best.pt`` when validation improved."""
    if not accelerator.is_main_process:
        return
    unwrapped = accelerator.unwrap_model(model)
    extra = {"optimizer": optimizer.state_dict(), "epoch": state.epoch, "step": state.step}
    save_checkpoint(out_dir / "last.pt", unwrapped, metadata=metadata, metrics=metrics, extra=extra)
    if math.isfinite(metrics["val_iou"]) and metrics["val_iou"] > state.best_iou:
        save_checkpoint(out_dir / "best.pt", unwrapped, metadata=metadata, metrics=metrics)


def open_log(path: Path, *, append: bool):
    """The training log (CSV): appended to when resuming an existing one, else new with its header."""
    new_log = not path.exists() or not append
    log_file = path.open("w" if new_log else "a", newline="")
    writer = csv.writer(log_file)
    if new_log:
        writer.writerow(LOG_COLUMNS)
    return log_file, writer


def train(model_config: ReconstructorConfig, config: TrainConfig, *, resume: bool = False) -> dict:
    """Train and return the final metrics; checkpoints and ``log.csv`` in ``config.out_dir``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm import tqdm

    if not 1 <= config.max_views:
        raise ValueError(f"TrainConfig.max_views must be >= 1, got {config.max_views}")
    torch.set_num_threads(config.threads)
    set_seed(config.seed)
    accelerator = Accelerator()
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    loader, val_loaders = make_loaders(config)

    model = Reconstructor(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    resuming = resume and (out_dir / "last.pt").is_file()
    if config.init_from and not resuming:
        init_weights(model, model_config, config.init_from)
    state = restore(model, optimizer, out_dir / "last.pt") if resuming else TrainState()
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    val_loaders = {k: accelerator.prepare(v) for k, v in val_loaders.items()}
    pose_aware = model_config.mode == "pose_aware"
    view_counts = np.random.default_rng([config.seed, state.epoch])

    log_file, writer = open_log(out_dir / "log.csv", append=resume)
    t0 = time.monotonic() - state.seconds_before
    metrics: dict = {"best_val_iou": state.best_iou}
    for epoch in range(state.epoch, config.epochs):
        state.epoch = epoch
        show = config.progress and accelerator.is_main_process
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show)
        out_of_time = False
        for batch in bar:
            lr = learning_rate(config, epoch + bar.n / max(1, len(loader)), time.monotonic() - t0)
            for group in optimizer.param_groups:
                group["lr"] = lr
            v = int(view_counts.integers(1, config.max_views + 1))
            loss, values = train_step(model, optimizer, accelerator, batch, v, config, pose_aware)
            state.step += 1
            seconds = time.monotonic() - t0
            terms = (f"{values[k]:.5f}" for k in ("occupancy", "view", "pose", "error"))
            writer.writerow([epoch, state.step, v, f"{loss:.5f}", *terms, f"{lr:.2e}", f"{seconds:.1f}", ""])
            log_file.flush()
            bar.set_postfix(loss=f"{loss:.3f}", occ=f"{values['occupancy']:.3f}", v=v)
            if config.max_minutes is not None and seconds > 60.0 * config.max_minutes:
                out_of_time = True
                break
        val_iou, val_parts = float("nan"), {}
        if val_loaders:
            val_parts = {
                k: validate(model, v, pose_aware=pose_aware, limit=config.val_objects, device=accelerator.device)
                for k, v in val_loaders.items()
            }
            val_iou = float(np.mean(list(val_parts.values())))
            log.info("epoch %d: val IoU@0.4 %s", epoch + 1, {k: round(v, 4) for k, v in val_parts.items()})
            writer.writerow([epoch, state.step, *[""] * 7, f"{time.monotonic() - t0:.1f}", f"{val_iou:.4f}"])
            log.info("epoch %d: val IoU@0.4 %.4f", epoch + 1, val_iou)
        log_file.flush()
        best = max(state.best_iou, val_iou) if math.isfinite(val_iou) else state.best_iou
        metrics = {"val_iou": val_iou, "val_iou_parts": val_parts, "best_val_iou": best, "epoch": epoch + 1,
                   "steps": state.step}  # fmt: skip
        metadata = {
            "train_config": to_dict(config),
            "train_seconds": round(time.monotonic() - t0, 1),
            "machine": {"platform": platform.platform(), "device": str(accelerator.device)},
            "torch": str(torch.__version__),
        }
        save_epoch(accelerator, model, optimizer, out_dir, state, metrics, metadata)
        state.best_iou = best
        if out_of_time:
            log.info("stopping: max_minutes=%s reached after %d steps", config.max_minutes, state.step)
            break
    log_file.close()
    return metrics


def init_weights(model: Reconstructor, model_config: ReconstructorConfig, path: str | Path) -> None:
    """Load a checkpoint's weights into ``model``; ValueError when its architecture is another."""
    state = read_checkpoint(path)
    theirs, ours = to_dict(from_mapping(ReconstructorConfig, state["config"])), to_dict(model_config)
    for arch in (theirs, ours):
        arch.pop("pretrained_encoder", None)  # where the encoder started, not the architecture
    if theirs != ours:
        raise ValueError(f"init_from {path} has model config {theirs}, not {ours}")
    model.load_state_dict(state["model"])
    log.info("fine-tuning from the weights of %s", path)


def load_train_yaml(path: str | Path) -> tuple[ReconstructorConfig, TrainConfig]:
    """A training YAML file: sections ``model:`` (ReconstructorConfig) and ``train:`` (TrainConfig)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read training config {path}: {exc}") from exc
    unknown = sorted(set(data) - {"model", "train"})
    if unknown:
        raise ValueError(f"training config {path}: unknown section(s) {unknown}; expected model and train")
    return (
        from_mapping(ReconstructorConfig, data.get("model") or {}),
        from_mapping(TrainConfig, data.get("train") or {}),
    )
