"""Parity between the PyTorch reconstructor and its ONNX export, on random and real inputs.

Real inputs are a few test objects of a rendered-view cache (.cache/data/*, the data
layer's ViewDataset) when one matches the model's image size and resolution; otherwise
procedural objects are rendered and voxelised on the spot (geometry.renderer / voxels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vtr_perception.geometry.metrics import DEFAULT_THRESHOLD, iou_batch
from vtr_perception.infer.base import OUTPUT_NAMES, ModelInfo

log = logging.getLogger(__name__)

OCCUPANCY_TOLERANCE = 1e-4  # max abs difference of occupancy probabilities
IOU_TOLERANCE = 1e-6  # "same IoU at 0.4"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Sample:
    """One parity input: images (B, V, 3, S, S), rotations (B, V, 3, 3), optional ground-truth voxels (B, R, R, R)."""

    name: str
    images: np.ndarray
    rotations: np.ndarray
    voxels: np.ndarray | None = None


@dataclass
class ParityReport:
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # per output, worst over samples
    iou_torch: list[float] = field(default_factory=list)  # per real object, vs ground truth at 0.4
    iou_onnx: list[float] = field(default_factory=list)
    iou_between: float = 1.0  # worst IoU between torch and ONNX occupancy masks at 0.4
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        same_iou = all(abs(a - b) <= IOU_TOLERANCE for a, b in zip(self.iou_torch, self.iou_onnx, strict=True))
        return self.max_abs_diff.get("occupancy", np.inf) <= OCCUPANCY_TOLERANCE and same_iou

    def summary(self) -> str:
        diffs = ", ".join(f"{k} {v:.2e}" for k, v in self.max_abs_diff.items())
        ious = ""
        if self.iou_torch:
            ious = f"; IoU@0.4 torch {np.mean(self.iou_torch):.4f} onnx {np.mean(self.iou_onnx):.4f}"
        return f"max abs diff: {diffs}{ious}; torch-vs-onnx mask IoU {self.iou_between:.6f}"


def random_rotations(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform random rotation matrices (QR of Gaussian matrices, sign-fixed to det +1)."""
    q, r = np.linalg.qr(rng.normal(size=(*shape, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q.astype(np.float32)


def random_samples(info: ModelInfo, *, shapes=((1, 1), (2, 3), (1, 5)), seed: int = 0) -> list[Sample]:
    rng = np.random.default_rng(seed)
    s = info.image_size
    return [
        Sample(f"random B{b} V{v}", rng.random((b, v, 3, s, s), dtype=np.float32), random_rotations(rng, (b, v)))
        for b, v in shapes
    ]


def _cache_samples(info: ModelInfo, num_objects: int, num_views: int) -> list[Sample]:
    from vtr_perception.data.cache import read_index
    from vtr_perception.data.dataset import ViewDataset

    for cache in sorted((REPO_ROOT / ".cache" / "data").glob("*/index.json")):
        try:
            config = read_index(cache.parent)["config"]
        except (ValueError, OSError, KeyError):
            continue
        if config.get("size") != info.image_size or config.get("resolution") != info.resolution:
            continue
        dataset = ViewDataset(cache.parent, split="test", view_set="aligned", num_views=num_views, fixed=True)
        samples = []
        for i in range(min(num_objects, len(dataset))):
            item = dataset[i]
            samples.append(
                Sample(
                    f"{cache.parent.name}/{item['object_id']}",
                    item["images"].numpy()[None],
                    item["rotations"].numpy()[None],
                    item["voxels"].numpy()[None] > 0.5,
                )
            )
        if samples:
            return samples
    return []


def _rendered_samples(info: ModelInfo, num_objects: int, num_views: int) -> list[Sample]:
    from vtr_perception.data.sources.procedural import CATEGORIES, make_object
    from vtr_perception.geometry.renderer import render_object_views
    from vtr_perception.geometry.voxels import Normalization, voxelize

    rng = np.random.default_rng(1)
    samples = []
    for category in sorted(CATEGORIES)[:num_objects]:
        mesh = make_object(f"{category}_0000")
        mesh = Normalization.of_mesh(mesh).mesh_to_canonical(mesh)
        az = rng.uniform(0, 360, num_views)
        el = rng.uniform(20, 35, num_views)
        rgb, _, Ts, _ = render_object_views(mesh, az, el, size=info.image_size)
        voxels, _ = voxelize(mesh, info.resolution, Normalization.identity())
        images = (rgb.astype(np.float32) / 255.0).transpose(0, 3, 1, 2)[None]
        samples.append(Sample(f"rendered/{category}", images, Ts[None, :, :3, :3].astype(np.float32), voxels[None]))
    return samples


def real_samples(info: ModelInfo, *, num_objects: int = 4, num_views: int = 3) -> list[Sample]:
    """A few real objects: cached test views if a matching cache exists, else fresh renders."""
    samples = _cache_samples(info, num_objects, num_views)
    if not samples:
        log.info("no matching data cache under .cache/data; rendering %d procedural objects", num_objects)
        samples = _rendered_samples(info, num_objects, num_views)
    return samples


def check_parity(model: torch.nn.Module, onnx_path: str | Path, samples: list[Sample]) -> ParityReport:
    """Run every sample through ``model`` (eager) and ONNX Runtime (CPU) and compare all outputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    input_names = [i.name for i in session.get_inputs()]
    report = ParityReport()
    model = model.eval()
    for sample in samples:
        feeds = {"images": sample.images, "rotations": sample.rotations}
        with torch.inference_mode():
            rot = torch.from_numpy(sample.rotations) if "rotations" in input_names else None
            ref = model(torch.from_numpy(sample.images), rot)
        got = dict(zip(OUTPUT_NAMES, session.run(list(OUTPUT_NAMES), {n: feeds[n] for n in input_names}), strict=True))
        for name in OUTPUT_NAMES:
            expected = ref[name].numpy()
            if got[name].shape != expected.shape:
                raise ValueError(f"{sample.name}: ONNX {name} has shape {got[name].shape}, torch {expected.shape}")
            diff = float(np.max(np.abs(got[name] - expected)))
            report.max_abs_diff[name] = max(report.max_abs_diff.get(name, 0.0), diff)
        a = ref["occupancy"].numpy() >= DEFAULT_THRESHOLD
        b = got["occupancy"] >= DEFAULT_THRESHOLD
        union = np.logical_or(a, b).sum()
        report.iou_between = min(report.iou_between, float(np.logical_and(a, b).sum() / union) if union else 1.0)
        if sample.voxels is not None:
            report.iou_torch.extend(iou_batch(ref["occupancy"].numpy(), sample.voxels).tolist())
            report.iou_onnx.extend(iou_batch(got["occupancy"], sample.voxels).tolist())
        report.samples.append(sample.name)
    return report
