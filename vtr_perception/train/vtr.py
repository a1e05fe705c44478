"""The VTR loop: search -> select -> synthesize -> fine-tune, repeated for a few epochs.

Each epoch:
1. search: a subset of training objects is reconstructed from ``num_views`` aligned views;
   the per-voxel error |GT - pred| (optionally masked by GT occupancy) scores the 72
   candidate bins by the error visible from each (view_selection.py);
2. select: the top bins per object, jittered, go into a per-category pool ("random",
   "nature" and "none" fill the pool the same way without looking at the model);
3. synthesize: from one aligned view of each object, images at viewpoints drawn from its
   category's pool (the same number of images for every selection);
4. fine-tune: a fraction ``ft_rate`` of the batches are synthesized multi-view batches
   (the synthesized views, their known target rotations and angles, the object's voxels),
   the rest ordinary aligned batches.
Angles stay absolute in the canonical frame here; the synthesizers convert them to the
source-relative camera themselves (synthesis/base.py ``relative_camera``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from vtr_perception.geometry.cameras import rotation_from_angles
from vtr_perception.train.synthesis.base import ViewSynthesizer
from vtr_perception.train.view_selection import ViewPool, build_pool, visible_error_scores, voxel_error

log = logging.getLogger(__name__)

# (model, images (B, V, 3, H, W), rotations (B, V, 3, 3)) -> occupancy (B, R, R, R)
PredictFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
# (model, batch dict) -> scalar loss tensor (the reconstructor trainer's loss)
LossFn = Callable[[torch.nn.Module, dict], torch.Tensor]


@dataclass
class VTRConfig:
    """VTR fine-tuning: error-guided view selection and view synthesis."""

    base: str = field(default="models/reconstructor.pt", metadata={"help": "checkpoint trained on aligned views"})
    caches: tuple[str, ...] = field(
        default=(".cache/data/pybullet64", ".cache/data/procedural64"),
        metadata={"help": "rendered-view data caches to fine-tune on together (as the base was trained)"},
    )
    selection: Literal["error", "random", "nature", "none"] = field(
        default="error", metadata={"help": "how the pool's viewpoints are chosen"}
    )
    synth: Literal["render", "diffusion", "zero123"] = field(default="diffusion", metadata={"help": "view synthesizer"})
    synth_model: str = field(
        default="models/view_synth", metadata={"help": "diffusers directory for the diffusion/zero123 synthesizer"}
    )
    synth_steps: int = field(default=25, metadata={"help": "DDIM steps per synthesized image"})
    synth_cache: str = field(default=".cache/vtr_synth", metadata={"help": "on-disk cache of synthesized images"})
    epochs: int = field(default=2, metadata={"help": "VTR epochs (search, select, synthesize, fine-tune)"})
    steps_per_epoch: int = field(default=100, metadata={"help": "fine-tuning steps per epoch"})
    ft_rate: float = field(default=0.5, metadata={"help": "fraction of batches replaced by synthesized batches"})
    keep_source_view: bool = field(
        default=True,
        metadata={"help": "synthesized batches keep the object's real aligned source view as their first view"},
    )
    batch_size: int = field(default=16, metadata={"help": "objects per batch"})
    lr: float = field(default=1e-4, metadata={"help": "fine-tuning learning rate (AdamW)"})
    num_views: int = field(default=3, metadata={"help": "views per object in search and training batches"})
    search_objects: int = field(default=96, metadata={"help": "training objects searched per epoch"})
    mask_error_by_gt: bool = field(default=True, metadata={"help": "keep only the error of GT-occupied voxels"})
    top_k: int = field(default=3, metadata={"help": "views selected per searched object"})
    jitter_deg: float = field(default=5.0, metadata={"help": "Gaussian jitter of selected angles (degrees)"})
    synth_objects: int = field(default=96, metadata={"help": "objects given synthesized views per epoch"})
    synth_views_per_object: int = field(default=3, metadata={"help": "synthesized images per object per epoch"})
    out: str = field(default="models/vtr.pt", metadata={"help": "output checkpoint"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.ft_rate <= 1.0:
            raise ValueError(f"ft_rate must be in [0, 1], got {self.ft_rate}")
        if self.synth_views_per_object < self.num_views:
            raise ValueError(
                f"synth_views_per_object ({self.synth_views_per_object}) must be >= num_views ({self.num_views})"
            )
        if not self.caches:
            raise ValueError("caches is empty: give at least one dataset cache directory")
        for name in ("epochs", "steps_per_epoch", "batch_size", "num_views", "search_objects", "synth_objects"):
            if getattr(self, name) < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def collate(items: list[dict]) -> dict:
    """Stack tensors, keep strings as lists (the dataset's and the synthesized items alike)."""
    out: dict = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = torch.stack(values) if torch.is_tensor(values[0]) else values
    return out


@torch.no_grad()
def search(
    model: torch.nn.Module,
    items: list[dict],
    predict: PredictFn,
    *,
    num_views: int,
    mask_by_gt: bool,
    batch_size: int = 16,
) -> torch.Tensor:
    """(N, 72) visible-error scores of the candidate bins for each item (aligned views)."""
    model.eval()
    scores = []
    for s in tqdm(range(0, len(items), batch_size), desc="VTR search", leave=False):
        batch = collate(items[s : s + batch_size])
        occupancy = predict(model, batch["images"][:, :num_views], batch["rotations"][:, :num_views])
        scores.append(visible_error_scores(voxel_error(occupancy, batch["voxels"], mask_by_gt=mask_by_gt)))
    return torch.cat(scores)


def synthesize_items(
    synthesizer: ViewSynthesizer,
    sources: list[dict],
    pool: ViewPool,
    *,
    views_per_object: int,
    rng: np.random.Generator,
    keep_source: bool = False,
) -> list[dict]:
    """One item per source object with ``views_per_object`` synthesized views at pool viewpoints.

    ``sources`` are dataset items whose first view is the aligned source image; with
    ``keep_source`` that real view comes first in the item, before the synthesized ones.
    """
    src_images, src_angles, tgt_angles, keys = [], [], [], []
    for item in sources:
        targets = pool.sample(item["category"], views_per_object, rng)
        for az, el in targets:
            src_images.append(item["images"][0])
            src_angles.append([float(item["azimuth"][0]), float(item["elevation"][0])])
            tgt_angles.append([az, el])
            keys.append(item["object_id"])
    images = synthesizer.synthesize(
        torch.stack(src_images), np.asarray(src_angles), np.asarray(tgt_angles), object_keys=keys
    )
    images = images.reshape(len(sources), views_per_object, *images.shape[1:])
    tgt = np.asarray(tgt_angles, dtype=np.float64).reshape(len(sources), views_per_object, 2)
    out = []
    for i, item in enumerate(sources):
        views = {
            "images": images[i].float(),
            "rotations": torch.from_numpy(rotation_from_angles(tgt[i, :, 0], tgt[i, :, 1]).astype(np.float32)),
            "azimuth": torch.from_numpy(tgt[i, :, 0].astype(np.float32)),
            "elevation": torch.from_numpy(tgt[i, :, 1].astype(np.float32)),
        }
        if keep_source:
            views = {k: torch.cat([torch.as_tensor(item[k][:1], dtype=v.dtype), v]) for k, v in views.items()}
        shared = {k: item[k] for k in ("voxels", "index", "object_id", "category")}
        out.append(views | shared | {"source_first": keep_source})
    return out


def _synthetic_batch(items: list[dict], batch_size: int, num_views: int, rng: np.random.Generator) -> dict:
    """``num_views`` views of ``batch_size`` random items; an item whose real source view comes
    first (``source_first``) always keeps it, plus ``num_views - 1`` synthesized views."""
    chosen = []
    for i in rng.integers(0, len(items), batch_size):
        item = items[i]
        first = 1 if item["source_first"] else 0
        pick = np.sort(rng.choice(np.arange(first, len(item["azimuth"])), size=num_views - first, replace=False))
        pick = np.concatenate([np.arange(first), pick])
        chosen.append(
            {
                k: (v[pick] if k in ("images", "rotations", "azimuth", "elevation") else v)
                for k, v in item.items()
                if k != "source_first"
            }
        )
    return collate(chosen)


def _cycle(loader: DataLoader) -> Iterator[dict]:
    while True:
        yield from loader


def fine_tune(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    real_batches: Iterator[dict],
    synthetic: list[dict],
    *,
    steps: int,
    ft_rate: float,
    batch_size: int,
    num_views: int,
    rng: np.random.Generator,
    desc: str = "VTR fine-tune",
) -> dict:
    """``steps`` optimiser steps; each is a synthesized batch with probability ``ft_rate``."""
    model.train()
    losses = {"real": [], "synthetic": []}
    bar = tqdm(range(steps), desc=desc)
    for _ in bar:
        use_synth = bool(synthetic) and rng.random() < ft_rate
        batch = _synthetic_batch(synthetic, batch_size, num_views, rng) if use_synth else next(real_batches)
        loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses["synthetic" if use_synth else "real"].append(float(loss.detach()))
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}", synth=use_synth)
    return {k: (float(np.mean(v)) if v else None) for k, v in losses.items()} | {
        "synthetic_batches": len(losses["synthetic"]),
        "real_batches": len(losses["real"]),
    }


def run_vtr(
    model: torch.nn.Module,
    config: VTRConfig,
    *,
    train_set: Dataset,
    source_set: Dataset,
    synthesizer: ViewSynthesizer | None,
    predict: PredictFn,
    loss_fn: LossFn,
    save: Callable[[torch.nn.Module, dict], None] | None = None,
) -> list[dict]:
    """The whole loop. ``train_set`` gives aligned ``num_views``-view items for fine-tuning and
    search; ``source_set`` gives each training object's fixed aligned source view (1 view).
    Returns one log dict per epoch; ``save(model, epoch_log)`` is called after each epoch.
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.selection != "none" and synthesizer is None:
        raise ValueError(f"selection {config.selection!r} needs a synthesizer")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, collate_fn=collate, drop_last=True)
    real_batches = _cycle(loader)
    n = len(train_set)
    logs = []
    for epoch in range(config.epochs):
        entry: dict = {"epoch": epoch, "selection": config.selection}
        search_idx = rng.choice(n, size=min(config.search_objects, n), replace=False)
        synth_idx = rng.choice(n, size=min(config.synth_objects, n), replace=False)
        categories = [source_set[int(i)]["category"] for i in search_idx]
        scores = None
        if config.selection == "error":
            items = [train_set[int(i)] for i in search_idx]
            scores = search(model, items, predict, num_views=config.num_views, mask_by_gt=config.mask_error_by_gt)
            entry["search_score_mean"] = float(scores.mean())
        pool = build_pool(
            config.selection, categories, rng=rng, scores=scores, top_k=config.top_k, jitter_deg=config.jitter_deg
        )
        entry["pool"] = pool.to_dict()
        synthetic: list[dict] = []
        if len(pool):
            sources = [source_set[int(i)] for i in synth_idx]
            synthetic = synthesize_items(
                synthesizer,
                sources,
                pool,
                views_per_object=config.synth_views_per_object,
                rng=rng,
                keep_source=config.keep_source_view,
            )
        entry["synthesized_images"] = len(synthetic) * config.synth_views_per_object
        entry |= fine_tune(
            model,
            optimizer,
            loss_fn,
            real_batches,
            synthetic,
            steps=config.steps_per_epoch,
            ft_rate=config.ft_rate,
            batch_size=config.batch_size,
            num_views=config.num_views,
            rng=rng,
            desc=f"VTR epoch {epoch + 1}/{config.epochs}",
        )
        log.info("VTR epoch %d: %s", epoch, {k: v for k, v in entry.items() if k != "pool"})
        logs.append(entry)
        if save is not None:
            save(model, entry)
    return logs
