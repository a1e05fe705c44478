"""Evaluation of a reconstructor, the ShapeNet-VTR protocol on our data, with retrieval baselines.

For each view set (aligned / hemisphere / sphere) and input view count, every held-out
object is reconstructed from views drawn with a fixed seed, and scored with
geometry/metrics.py (IoU at 0.4 and best over thresholds, F-score at 1%, Chamfer-L1).
Beside the model the same objects are scored for the baselines of baselines.py
(mean shape, clustering, retrieval, oracle NN). Extra results: per category, the
normalised score (IoU - mean shape) / (oracle NN - mean shape), IoU by elevation bin of
the first input view, pose-head error in degrees, and the Spearman rho between the
error head and the true per-voxel error |truth - occupancy|.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vtr_perception.data.cache import read_index, read_object
from vtr_perception.data.dataset import ViewDataset
from vtr_perception.geometry.metrics import grid_metrics
from vtr_perception.geometry.view_sets import GRID_BIN_DEG, elevation_bin
from vtr_perception.models import load_checkpoint
from vtr_perception.train.baselines import RetrievalBaselines, image_embedding
from vtr_perception.train.losses import pose_error_deg

METHODS = ("model", "clustering", "retrieval", "oracle_nn", "mean_shape")
METRIC_KEYS = ("iou", "iou_best", "fscore", "chamfer")


def is_cache(path: str) -> bool:
    return (Path(path) / "index.json").is_file()


def resolve_caches(source: str, work_dir: Path, *, view_sets: tuple[str, ...], image_size: int) -> list[str]:
    """Cache directories of ``source``: comma-separated cache dirs, or a mesh source spec rendered to a temp cache.

    A missing cache with a standard name (data/cache.py ``STANDARD_CACHES``) is built first."""
    from vtr_perception.data.cache import ensure_standard_cache

    parts = [s.strip() for s in source.split(",") if s.strip()]
    for p in parts:
        ensure_standard_cache(p)
    if parts and all(is_cache(p) for p in parts):
        return parts
    if len(parts) == 1 and not Path(parts[0]).is_dir():
        from vtr_perception.data.cache import build_cache

        out = work_dir / "cache"
        build_cache(parts[0], out, size=image_size, views={vs: 8 for vs in view_sets})
        return [str(out)]
    raise ValueError(f"--source {source!r} is neither dataset cache directories (with index.json) nor a source spec")


def training_baselines(caches: list[str], *, clusters: int, seed: int, progress: bool) -> RetrievalBaselines:
    """Fit the baselines on the train split (aligned views) of the model's training caches."""
    from tqdm import tqdm

    shapes, embeddings = [], []
    from vtr_perception.data.cache import ensure_standard_cache, standard_build_command

    for cache in caches:
        ensure_standard_cache(cache)
        if not is_cache(cache):
            command = standard_build_command(cache) or "vtr-perception data build --source SPEC --out " + cache
            raise ValueError(f"training cache {cache} not found: build it with `{command}` or give --train-caches")
        objects = [o for o in read_index(cache)["objects"] if o["split"] == "train"]
        for entry in tqdm(objects, desc=f"baselines: {Path(cache).name}", disable=not progress):
            arrays = read_object(Path(cache) / entry["file"], keys=("aligned/images",))
            images = arrays["aligned/images"].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
            shapes.append(arrays["voxels"])
            embeddings.append(image_embedding(images))
    if not shapes:
        raise ValueError(f"no training objects in {caches}")
    return RetrievalBaselines.fit(np.stack(shapes), np.stack(embeddings), k=clusters, seed=seed)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def elevation_label(index: int) -> str:
    low = -90 + index * GRID_BIN_DEG
    return f"{low:.0f}..{low + GRID_BIN_DEG:.0f}"


def summarise(records: list[dict], method: str, view_set: str, num_views: int, reference: dict) -> dict:
    """One results row from per-object records of one method."""
    row: dict = {"method": method, "view_set": view_set, "num_views": num_views}
    for key in METRIC_KEYS:
        row[key] = float(np.mean([r[key] for r in records]))
    poses = [r["pose_deg"] for r in records if r.get("pose_deg") is not None]
    row["pose_deg"] = float(np.mean(poses)) if poses else None
    row["objects"] = len(records)
    span = reference["oracle_nn"] - reference["mean_shape"]
    row["normalized"] = (
        float((row["iou"] - reference["mean_shape"]) / span) if span > 0 else None
    )  # None without baselines
    by_category, by_elevation = defaultdict(list), defaultdict(list)
    for r in records:
        by_category[r["category"]].append(r["iou"])
        by_elevation[elevation_label(r["elevation_bin"])].append(r["iou"])
    row["per_category"] = {c: float(np.mean(v)) for c, v in sorted(by_category.items())}
    row["iou_by_elevation"] = {
        e: {"iou": float(np.mean(v)), "objects": len(v)} for e, v in sorted(by_elevation.items())
    }
    return row


def recorded_train_caches(metadata: dict) -> list[str]:
    """The caches a checkpoint was trained on: its own ``train_config``, else (a VTR fine-tune) its base's."""
    while metadata:
        caches = metadata.get("train_config", {}).get("caches")
        if caches:
            return list(caches)
        metadata = metadata.get("base_metadata") or {}
    return []


@dataclass
class SettingScores:
    """Per-object scores of every method for one view set and view count, and the error head's agreement."""

    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    pred_err: list[np.ndarray] = field(default_factory=list)
    true_err: list[np.ndarray] = field(default_factory=list)
    per_object_rho: list[float] = field(default_factory=list)


def score_batch(model, items: list[dict], cache: str, *, pose_aware: bool, baselines: RetrievalBaselines | None,
                mean_shape, fixed_scores: dict[str, dict], scores: SettingScores, n_points: int) -> None:  # fmt: skip
    """Run the model on one batch of objects and add every method's scores to ``scores``.

    ``fixed_scores`` caches per object what does not depend on the views (Oracle NN, mean shape);
    ``baselines`` None scores the model alone."""
    images = torch.stack([it["images"] for it in items])
    rotations = torch.stack([it["rotations"] for it in items]) if pose_aware else None
    with torch.no_grad():
        out = model(images, rotations)
    azimuth = torch.stack([it["azimuth"] for it in items])
    pose_deg = pose_error_deg(out["view_pose"], azimuth, torch.stack([it["elevation"] for it in items])).mean(dim=1)
    for j, item in enumerate(items):
        gt = item["voxels"].numpy() > 0.5
        key = f"{cache}:{item['object_id']}"
        common = {"category": item["category"], "elevation_bin": int(elevation_bin(float(item["elevation"][0])))}
        if baselines is not None and key not in fixed_scores:
            fixed_scores[key] = {
                "oracle_nn": grid_metrics(baselines.oracle_nn(gt), gt, n_points=n_points),
                "mean_shape": grid_metrics(mean_shape, gt, n_points=n_points),
            }
        occupancy = out["occupancy"][j].numpy()
        views = item["images"].numpy()
        model_row = {**grid_metrics(occupancy, gt, n_points=n_points), **common, "pose_deg": float(pose_deg[j])}
        scores.records["model"].append(model_row)
        if baselines is not None:
            for method, pred in (
                ("clustering", baselines.clustering(views)),
                ("retrieval", baselines.retrieval(views)),
            ):
                scores.records[method].append({**grid_metrics(pred, gt, n_points=n_points), **common})
            for method in ("oracle_nn", "mean_shape"):
                scores.records[method].append({**fixed_scores[key][method], **common})
        err = out["error"][j].numpy().ravel()
        true = np.abs(gt.astype(np.float32) - occupancy).ravel()
        scores.pred_err.append(err)
        scores.true_err.append(true)
        scores.per_object_rho.append(spearman(err, true))


def setting_rows(scores: SettingScores, view_set: str, num_views: int) -> list[dict]:
    """One result row per method; the model's carries the error head's Spearman rho."""
    records = scores.records
    reference = {m: float(np.mean([r["iou"] for r in records[m]])) if records[m] else float("nan")
                 for m in ("oracle_nn", "mean_shape")}  # fmt: skip
    rows = []
    for method in (m for m in METHODS if records[m]):
        row = summarise(records[method], method, view_set, num_views, reference)
        if method == "model":
            row["error_spearman"] = spearman(np.concatenate(scores.pred_err), np.concatenate(scores.true_err))
            row["error_spearman_per_object"] = float(np.nanmean(scores.per_object_rho))
        rows.append(row)
    return rows


def evaluate(
    model_path: str | Path,
    source: str,
    *,
    split: str | None = "test",
    view_sets: tuple[str, ...] = ("aligned", "hemisphere", "sphere"),
    num_views: tuple[int, ...] = (1, 3),
    train_caches: list[str] | None = None,
    max_objects: int | None = None,
    clusters: int = 32,
    n_points: int = 2000,
    seed: int = 0,
    batch_size: int = 16,
    with_baselines: bool = True,
    progress: bool = True,
) -> dict:
    """Evaluate ``model_path`` on ``source``; returns the result document (see DESIGN.md "Result files").

    ``with_baselines`` False scores the model alone (no training caches needed: the quality gate)."""
    from tqdm import tqdm

    model, config, metadata = load_checkpoint(model_path)
    pose_aware = config.mode == "pose_aware"
    baselines = mean_shape = None
    if with_baselines:
        train_caches = train_caches or recorded_train_caches(metadata)
        if not train_caches:
            raise ValueError(f"{model_path} does not record its training caches; give --train-caches for the baselines")
        baselines = training_baselines(train_caches, clusters=clusters, seed=seed, progress=progress)
        mean_shape = baselines.mean_shape()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="vtr_eval_") as tmp:
        caches = resolve_caches(source, Path(tmp), view_sets=view_sets, image_size=config.image_size)
        fixed_scores: dict[str, dict] = {}  # per object: oracle NN and mean shape (independent of the views)
        rows = []
        for view_set in view_sets:
            for n in num_views:
                scores = SettingScores()
                for cache in caches:
                    data = ViewDataset(cache, split=split, view_set=view_set, num_views=n, fixed=True, seed=seed)
                    count = len(data) if max_objects is None else min(len(data), max_objects)
                    desc = f"{view_set} x{n} {Path(cache).name}"
                    for start in tqdm(range(0, count, batch_size), desc=desc, disable=not progress):
                        items = [data[i] for i in range(start, min(count, start + batch_size))]
                        score_batch(model, items, str(cache), pose_aware=pose_aware, baselines=baselines,
                                    mean_shape=mean_shape, fixed_scores=fixed_scores, scores=scores,
                                    n_points=n_points)  # fmt: skip
                if not scores.records["model"]:
                    raise ValueError(f"no {split} objects in {caches}")
                rows.extend(setting_rows(scores, view_set, n))
    error_stats = [r["error_spearman"] for r in rows if r["method"] == "model"]
    return {
        "model": str(model_path),
        "source": source,
        "split": split if split is not None else "all",
        "mode": config.mode,
        "results": rows,
        "error_spearman": float(np.nanmean(error_stats)) if error_stats else None,
        "baselines": None
        if baselines is None
        else {
            "train_caches": train_caches,
            "train_objects": int(len(baselines.shapes)),
            "clusters": int(len(baselines.centres)),
            "embedding": "16x16 RGB thumbnails, mean-centred and L2-normalised; nearest training object by the "
            "mean over input views of the closest training view (cosine); baselines ignore camera poses",
        },
        "protocol": {
            "view_sets": list(view_sets),
            "num_views": list(num_views),
            "seed": seed,
            "surface_points": n_points,
            "elevation_bins": "of the first input view",
        },
        "metadata": run_metadata(started),
    }


def run_metadata(started: float) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
        "command": " ".join(sys.argv),
        "git_commit": commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
    }


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def markdown_table(result: dict) -> str:
    """The results as a markdown table (plus the error-head correlation and per-category IoU of the model)."""
    lines = [
        f"Model `{result['model']}` ({result.get('mode', '?')}) on `{result['source']}`, split {result['split']}.",
        "",
        "| method | view set | views | IoU@0.4 | IoU best | F@1% | normalised | pose (deg) | objects |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        lines.append(
            f"| {r['method']} | {r['view_set']} | {r['num_views']} | {_fmt(r['iou'])} | {_fmt(r['iou_best'])} | "
            f"{_fmt(r['fscore'])} | {_fmt(r.get('normalized'), 2)} | {_fmt(r['pose_deg'], 1)} | {r['objects']} |"
        )
    model_rows = [r for r in result["results"] if r["method"] == "model"]
    if model_rows:
        lines += ["", "Error head vs true per-voxel error (Spearman rho, all voxels pooled / mean per object):", ""]
        for r in model_rows:
            lines.append(
                f"- {r['view_set']} x{r['num_views']}: {_fmt(r.get('error_spearman'))} / "
                f"{_fmt(r.get('error_spearman_per_object'))}"
            )
        categories = sorted({c for r in model_rows for c in r["per_category"]})
        lines += [
            "",
            "Model IoU@0.4 per category:",
            "",
            "| view set | views | " + " | ".join(categories) + " |",
            "|---|---|" + "---|" * len(categories),
        ]
        for r in model_rows:
            cells = " | ".join(_fmt(r["per_category"].get(c)) for c in categories)
            lines.append(f"| {r['view_set']} | {r['num_views']} | {cells} |")
        bins = sorted({b for r in model_rows for b in r["iou_by_elevation"]}, key=lambda s: float(s.split("..")[0]))
        lines += [
            "",
            "Model IoU@0.4 by elevation of the first view (degrees):",
            "",
            "| view set | views | " + " | ".join(bins) + " |",
            "|---|---|" + "---|" * len(bins),
        ]
        for r in model_rows:
            cells = " | ".join(_fmt(r["iou_by_elevation"].get(b, {}).get("iou")) for b in bins)
            lines.append(f"| {r['view_set']} | {r['num_views']} | {cells} |")
    return "\n".join(lines) + "\n"
