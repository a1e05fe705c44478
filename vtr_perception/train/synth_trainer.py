"""`vtr-perception train-synth`: train the pose-conditioned diffusion synthesizer and score it.

Training pairs come from the data cache's "synth" split: objects disjoint from the
reconstructor's train and test objects (pybullet_data random objects 800-999 are pinned
there, see data/splits.py), as Zero-1-to-3 was trained on other data than ShapeNet. A pair
is (an aligned view of an object, any other cached view of it, both cameras); the UNet
learns to denoise the target given the source image and the relative camera. A few
synth objects are held out (by object) to score PSNR, SSIM and silhouette IoU against the
true renders, next to the trivial "copy the source image" baseline.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from vtr_perception.io_utils import atomic_write_json
from vtr_perception.train.synthesis.base import relative_camera
from vtr_perception.train.synthesis.diffusion import (
    DiffusionModelConfig,
    DiffusionSynthesizer,
    build_unet,
    make_scheduler,
    predict,
    resize,
    save_pretrained,
)

log = logging.getLogger(__name__)

VIEW_SET_NAMES = ("aligned", "hemisphere", "sphere")
# A pixel with any channel below this is object. Renders have a pure white background and objects at
# most 0.48 in their darkest channel; sampled backgrounds come out around 0.93, which a threshold near
# white (0.95) counts as object everywhere (the silhouette IoU of any sampler is then the object's area).
WHITE_THRESHOLD = 0.75


@dataclass
class SynthTrainConfig:
    """Training of the diffusion view synthesizer."""

    data_cache: str = field(default=".cache/data/pybullet64", metadata={"help": "data cache with a 'synth' split"})
    split: str = field(default="synth", metadata={"help": "cache split whose objects train the synthesizer"})
    out: str = field(default="models/view_synth", metadata={"help": "output directory (diffusers layout)"})
    minutes: float = field(default=12.0, metadata={"help": "wall-clock training budget in minutes"})
    max_steps: int = field(default=100000, metadata={"help": "stop after this many steps even within the budget"})
    batch_size: int = field(default=32, metadata={"help": "pairs per training step"})
    lr: float = field(default=3e-4, metadata={"help": "AdamW learning rate"})
    eval_objects: int = field(default=12, metadata={"help": "synth objects held out (by object) for scoring"})
    eval_pairs: int = field(default=6, metadata={"help": "target views scored per held-out object"})
    inference_steps: int = field(default=25, metadata={"help": "DDIM steps when scoring"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})


@dataclass
class ObjectViews:
    key: str
    images: torch.Tensor  # (V, 3, S, S) in [0, 1]
    az_el: np.ndarray  # (V, 2) degrees
    aligned: np.ndarray  # indices of the aligned views


def load_split_views(cache_dir: str | Path, split: str, image_size: int) -> list[ObjectViews]:
    """Every cached view of the split's objects, resized to ``image_size``."""
    from vtr_perception.data.cache import read_object
    from vtr_perception.data.dataset import cached_records

    cache_dir = Path(cache_dir)
    records = cached_records(cache_dir, split=split)
    if not records:
        raise ValueError(f"data cache {cache_dir} has no objects in split {split!r}")
    out = []
    for rec in tqdm(records, desc=f"loading {split} views"):
        arrays = read_object(cache_dir / rec["file"])
        images, az_el, aligned = [], [], []
        for name in VIEW_SET_NAMES:
            if f"{name}/images" not in arrays:
                continue
            imgs = torch.from_numpy(arrays[f"{name}/images"][..., :3]).permute(0, 3, 1, 2).float() / 255.0
            start = sum(len(i) for i in images)
            if name == "aligned":
                aligned = list(range(start, start + len(imgs)))
            images.append(resize(imgs, image_size))
            az_el.append(np.stack([arrays[f"{name}/azimuth"], arrays[f"{name}/elevation"]], axis=1))
        if not aligned:
            continue
        key = rec.get("key") or Path(rec["file"]).stem
        out.append(ObjectViews(key, torch.cat(images), np.concatenate(az_el).astype(np.float64), np.asarray(aligned)))
    return out


def sample_pairs(objects: list[ObjectViews], n: int, rng: np.random.Generator):
    """(source, target, source_az_el, target_az_el) for n random (aligned source, any target) pairs."""
    obj_idx = rng.integers(0, len(objects), n)
    src, tgt, src_ang, tgt_ang = [], [], [], []
    for i in obj_idx:
        o = objects[i]
        s = int(rng.choice(o.aligned))
        t = int(rng.integers(0, len(o.images)))
        src.append(o.images[s])
        tgt.append(o.images[t])
        src_ang.append(o.az_el[s])
        tgt_ang.append(o.az_el[t])
    return torch.stack(src), torch.stack(tgt), np.stack(src_ang), np.stack(tgt_ang)


def silhouette_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    ma = (a < WHITE_THRESHOLD).any(dim=1)
    mb = (b < WHITE_THRESHOLD).any(dim=1)
    inter = (ma & mb).sum(dim=(1, 2)).float()
    union = (ma | mb).sum(dim=(1, 2)).float()
    return float(torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).mean())


def image_scores(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """Mean PSNR (dB), SSIM and silhouette IoU of (N, 3, H, W) images in [0, 1]."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    p = pred.clamp(0, 1).permute(0, 2, 3, 1).numpy().astype(np.float64)
    t = true.clamp(0, 1).permute(0, 2, 3, 1).numpy().astype(np.float64)
    psnr = [peak_signal_noise_ratio(t[i], p[i], data_range=1.0) for i in range(len(p))]
    ssim = [structural_similarity(t[i], p[i], data_range=1.0, channel_axis=-1, win_size=7) for i in range(len(p))]
    return {
        "psnr": float(np.mean(np.minimum(psnr, 100.0))),
        "ssim": float(np.mean(ssim)),
        "silhouette_iou": silhouette_iou(pred, true),
    }


def evaluate(synth: DiffusionSynthesizer, objects: list[ObjectViews], *, pairs: int, seed: int) -> dict:
    """Scores of generated views vs true renders, and of the copy-the-source baseline."""
    rng = np.random.default_rng(seed)
    src, tgt, sa, ta, keys = [], [], [], [], []
    for o in objects:
        s = int(o.aligned[0])
        others = [i for i in range(len(o.images)) if i != s]
        for t in rng.choice(others, size=min(pairs, len(others)), replace=False):
            src.append(o.images[s])
            tgt.append(o.images[int(t)])
            sa.append(o.az_el[s])
            ta.append(o.az_el[int(t)])
            keys.append(o.key)
    src_t, tgt_t = torch.stack(src), torch.stack(tgt)
    generated = synth.synthesize(src_t, np.stack(sa), np.stack(ta))
    return {"pairs": len(src), "model": image_scores(generated, tgt_t), "copy_source": image_scores(src_t, tgt_t)}


def train_synthesizer(config: SynthTrainConfig, model_config: DiffusionModelConfig) -> dict:
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    objects = load_split_views(config.data_cache, config.split, model_config.image_size)
    if len(objects) <= config.eval_objects:
        raise ValueError(f"split {config.split!r} has {len(objects)} objects; need more than eval_objects")
    objects.sort(key=lambda o: o.key)
    held_out, train_objects = objects[: config.eval_objects], objects[config.eval_objects :]
    unet, proj = build_unet(model_config)
    scheduler = make_scheduler(model_config.train_timesteps, model_config.prediction_type)
    params = list(unet.parameters()) + list(proj.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-4)
    deadline = time.monotonic() + 60.0 * config.minutes
    losses: list[float] = []
    step = 0
    bar = tqdm(total=config.max_steps, desc="train-synth")
    unet.train()
    while step < config.max_steps and time.monotonic() < deadline:
        src, tgt, sa, ta = sample_pairs(train_objects, config.batch_size, rng)
        src, tgt = src * 2.0 - 1.0, tgt * 2.0 - 1.0
        noise = torch.randn_like(tgt)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(tgt),))
        noisy = scheduler.add_noise(tgt, noise, t)
        target = scheduler.get_velocity(tgt, noise, t) if scheduler.config.prediction_type == "v_prediction" else noise
        loss = F.mse_loss(predict(unet, proj, noisy, t, src, relative_camera(sa, ta)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss))
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    bar.close()
    out = Path(config.out)
    save_pretrained(out, unet, proj, scheduler)
    synth = DiffusionSynthesizer(unet, proj, scheduler, num_inference_steps=config.inference_steps)
    scores = evaluate(synth, held_out, pairs=config.eval_pairs, seed=config.seed)
    report = {
        "steps": step,
        "minutes": config.minutes,
        "final_loss": float(np.mean(losses[-100:])) if losses else None,
        "train_objects": len(train_objects),
        "held_out_objects": len(held_out),
        "image_size": model_config.image_size,
        "parameters": sum(p.numel() for p in params),
        "scores": scores,
    }
    atomic_write_json(out / "train_report.json", report)
    log.info("train-synth: %s", json.dumps(report))
    return report
