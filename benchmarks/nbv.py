"""Closed-loop next-best-view benchmark: does planning from the error head find better views?

For each held-out object: start from one random view (hemisphere view set), then K times:
reconstruct (pose-aware, world = canonical frame), let each planner choose among the
72-bin candidate grid at the render distance (elevation >= 0 by default: an object on a
table is not seen from below), render that view and add it. All planners
share the renders, the limits (15 degrees from views taken) and the initial view.

    random      a uniformly random allowed candidate
    farthest    the allowed candidate farthest (in angle) from every view taken
    entropy     NextBestViewPlanner with the occupancy-entropy estimate
    error_head  NextBestViewPlanner with the error head's prediction (ours)
    oracle      NextBestViewPlanner with the true error |gt - occupancy|

Writes benchmarks/results/nbv.json (schema in ../shared/DESIGN.md) and nbv.png.

    python benchmarks/nbv.py [--cache .cache/data] [--checkpoint models/reconstructor.pt] [--objects 40]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, run_metadata  # noqa: E402

from vtr_perception.geometry import metrics  # noqa: E402
from vtr_perception.geometry.cameras import RENDER_DISTANCE  # noqa: E402
from vtr_perception.geometry.view_sets import sample_views  # noqa: E402
from vtr_perception.io_utils import atomic_write, atomic_write_json  # noqa: E402
from vtr_perception.nbv.candidates import Candidates, allowed_mask, make_candidates  # noqa: E402
from vtr_perception.nbv.config import PlannerConfig  # noqa: E402
from vtr_perception.nbv.planner import NextBestViewPlanner  # noqa: E402

PLANNERS = ("random", "farthest", "entropy", "error_head", "oracle")
BASELINES = ("random", "farthest")  # planners that do not look at the reconstruction
IOU_THRESHOLD = 0.4  # the reported threshold of the design frame
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "nbv.json"

# images (B, V, 3, H, W) float32 in [0, 1], rotations (B, V, 3, 3) -> outputs of each of B objects
Reconstruct = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


def benchmark_planner_config(**overrides) -> PlannerConfig:
    """The 72-bin grid at the render distance, whole sphere, no motion cost (views are free here).

    No preferred elevation band: the benchmark compares planners on the candidates alone.
    """
    options = dict(
        candidates="grid",
        num_candidates=72,
        elevation_min_deg=-90.0,
        elevation_max_deg=90.0,
        outside_preferred_factor=1.0,
        distance_min=RENDER_DISTANCE,
        distance_max=RENDER_DISTANCE,
        num_distances=1,
        min_angle_from_taken_deg=15.0,
        motion_weight=0.0,
        stop_gain=0.0,
        max_views=100,
    )
    options.update(overrides)
    return PlannerConfig(**options)


def iou(occupancy: np.ndarray, gt: np.ndarray, threshold: float = IOU_THRESHOLD) -> float:
    if occupancy.shape != gt.shape:
        raise ValueError(f"model resolution {occupancy.shape} differs from the cache's voxel grid {gt.shape}")
    return metrics.iou(occupancy, gt, threshold=threshold)


def _nearest_candidate(candidates: Candidates, pose: np.ndarray) -> int:
    return int(np.argmin(np.linalg.norm(candidates.poses[:, :3, 3] - pose[:3, 3], axis=1)))


def choose_view(
    name: str,
    *,
    outputs: dict[str, np.ndarray],
    gt: np.ndarray,
    candidates: Candidates,
    taken_poses: np.ndarray,
    planners: dict[str, NextBestViewPlanner],
    config: PlannerConfig,
    rng: np.random.Generator,
) -> int | None:
    """Index of the candidate planner ``name`` picks next; None when no candidate is allowed."""
    if name in BASELINES:
        allowed = np.flatnonzero(allowed_mask(candidates, config, extent=1.0, taken_poses=taken_poses))
        if len(allowed) == 0:
            return None
        if name == "random":
            return int(rng.choice(allowed))
        taken = taken_poses[:, :3, 3] / np.linalg.norm(taken_poses[:, :3, 3], axis=1, keepdims=True)
        closest = (candidates.directions[allowed] @ taken.T).max(axis=1)  # cos of the nearest taken view
        return int(allowed[np.argmin(closest)])
    result = planners[name].plan_from_outputs(outputs, gt=gt, taken_poses=taken_poses)
    return None if result.best_pose is None else _nearest_candidate(candidates, result.best_pose)


def run_object(
    reconstruct: Reconstruct,
    *,
    images: np.ndarray,
    poses: np.ndarray,
    gt: np.ndarray,
    steps: int,
    rng: np.random.Generator,
    config: PlannerConfig,
    planner_names: tuple[str, ...] = PLANNERS,
    planners: dict[str, NextBestViewPlanner] | None = None,
    chosen: dict[str, list[int]] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """One object's closed loop. ``images``/``poses``: view 0 is the initial view, 1..72 the candidates.

    Returns IoU after 1..steps+1 views and planning times (ms) per planner.
    """
    candidates = make_candidates(config)
    if not np.allclose(candidates.poses, poses[1:], atol=1e-6):
        raise ValueError("rendered candidate poses differ from the planner's candidate grid")
    planners = planners if planners is not None else make_planners(config, planner_names)
    views = {n: [0] for n in planner_names}  # indices into images/poses
    ious: dict[str, list[float]] = {n: [] for n in planner_names}
    times: dict[str, list[float]] = {n: [] for n in planner_names}
    for step in range(steps + 1):
        batch = np.stack([images[views[n]] for n in planner_names])
        rotations = np.stack([poses[views[n], :3, :3] for n in planner_names]).astype(np.float32)
        if step == 0:  # every planner starts from the same view: reconstruct it once
            outputs = {
                k: np.repeat(v, len(planner_names), axis=0) for k, v in reconstruct(batch[:1], rotations[:1]).items()
            }
        else:
            outputs = reconstruct(batch, rotations)
        for b, name in enumerate(planner_names):
            one = {k: v[b] for k, v in outputs.items()}
            ious[name].append(iou(one["occupancy"], gt))
            if step == steps:
                continue
            start = time.perf_counter()
            pick = choose_view(
                name, outputs=one, gt=gt, candidates=candidates, taken_poses=poses[views[name]],
                planners=planners, config=config, rng=rng,
            )  # fmt: skip
            times[name].append((time.perf_counter() - start) * 1e3)
            views[name].append(views[name][-1] if pick is None else pick + 1)
    if chosen is not None:  # candidate indices each planner picked, for diagnostics
        for name in planner_names:
            chosen.setdefault(name, []).extend(v - 1 for v in views[name][1 : steps + 1])
    return ious, times


def make_planners(config: PlannerConfig, names: tuple[str, ...] = PLANNERS) -> dict[str, NextBestViewPlanner]:
    """One NextBestViewPlanner per estimator-based planner name (they cache their ray bundles)."""
    return {n: NextBestViewPlanner(dataclasses.replace(config, estimator=n)) for n in names if n not in BASELINES}


def views_to_target(iou_curve: np.ndarray, target: float) -> float:
    """1-based number of views at which ``target`` IoU is first reached (inf if never)."""
    reached = np.flatnonzero(iou_curve >= target)
    return float(reached[0] + 1) if len(reached) else float("inf")


def summarise(all_ious: dict[str, list[list[float]]], all_times: dict[str, list[float]], target: float) -> dict:
    planners = {}
    for name, curves in all_ious.items():
        curves_arr = np.asarray(curves)  # (objects, steps + 1)
        needed = np.array([views_to_target(c, target) for c in curves_arr])
        reached = np.isfinite(needed)
        planners[name] = {
            "iou_per_step": curves_arr.mean(axis=0).round(4).tolist(),
            "iou_std_per_step": curves_arr.std(axis=0).round(4).tolist(),
            "plan_ms_p50": round(float(np.median(all_times[name])), 3) if all_times[name] else 0.0,
            "plan_ms_p95": round(float(np.percentile(all_times[name], 95)), 3) if all_times[name] else 0.0,
            "views_to_target_mean": round(float(needed[reached].mean()), 3) if reached.any() else None,
            "reached_target_fraction": round(float(reached.mean()), 4),
        }
    return planners


def targets(planners: dict) -> dict:
    """The issue's targets, checked on the mean curves."""
    if not {"random", "farthest", "error_head", "oracle"} <= set(planners):
        return {}
    curve = {n: np.asarray(p["iou_per_step"]) for n, p in planners.items()}
    beats = bool(np.all(curve["error_head"][1:] > np.maximum(curve["random"], curve["farthest"])[1:]))
    at3 = 2  # index of "after 3 views"
    gap = curve["oracle"][at3] - curve["random"][at3]
    closed = float((curve["error_head"][at3] - curve["random"][at3]) / gap) if abs(gap) > 1e-9 else None
    return {
        "error_head_beats_random_and_farthest_from_view_2": beats,
        "gap_closed_at_3_views": None if closed is None else round(closed, 4),
        "gap_target_met": closed is not None and closed >= 0.5,
    }


def plot(planners: dict, path: Path, *, objects: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, p in planners.items():
        mean, std = np.asarray(p["iou_per_step"]), np.asarray(p["iou_std_per_step"])
        x = np.arange(1, len(mean) + 1)
        ax.plot(x, mean, marker="o", label=name)
        ax.fill_between(x, mean - std / np.sqrt(objects), mean + std / np.sqrt(objects), alpha=0.15)
    ax.set_xlabel("views")
    ax.set_ylabel(f"IoU at {IOU_THRESHOLD}")
    ax.set_title(f"closed-loop next-best-view, {objects} held-out objects (band: std error)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def load_reconstructor(checkpoint: Path | None) -> tuple[Reconstruct, int]:
    """(reconstruct, image_size) of a pose-aware checkpoint run with torch on the CPU.

    ``checkpoint=None`` builds a randomly initialised model: for developing this script only.
    """
    from vtr_perception.models import Reconstructor, ReconstructorConfig, load_checkpoint

    if checkpoint is None:
        torch.manual_seed(0)
        model, config = Reconstructor(ReconstructorConfig()), ReconstructorConfig()
    else:
        if not checkpoint.is_file():
            raise ValueError(f"checkpoint {checkpoint} does not exist (train one or pass --checkpoint)")
        model, config, _ = load_checkpoint(checkpoint)
    model.eval()
    if config.mode != "pose_aware":
        raise ValueError(f"checkpoint {checkpoint} is a {config.mode} model; this benchmark needs pose_aware")

    @torch.no_grad()
    def reconstruct(images: np.ndarray, rotations: np.ndarray) -> dict[str, np.ndarray]:
        out = model(torch.from_numpy(images), torch.from_numpy(rotations))
        return {k: out[k].float().numpy() for k in ("occupancy", "error", "view_occupancy")}

    return reconstruct, int(config.image_size)


def time_planner(outputs: dict[str, np.ndarray], *, taken_poses: np.ndarray, repeats: int = 30,
                 **overrides) -> dict[str, float]:  # fmt: skip
    """p50 ms of one error-head plan among the 72-bin grid (one shell) and 144 (two shells) candidates,
    with the run's other planner settings and ``taken_poses`` taken (seen_surface_angle_deg costs per view)."""
    timings = {}
    overrides = {k: v for k, v in overrides.items() if k not in ("candidates", "num_candidates")}
    for shells in (1, 2):
        config = benchmark_planner_config(**{**overrides, "distance_max": RENDER_DISTANCE * 1.25,
                                             "num_distances": shells, "min_angle_from_taken_deg": 0.0})  # fmt: skip
        planner = NextBestViewPlanner(config)
        planner.plan_from_outputs(outputs, taken_poses=taken_poses)  # builds the cached ray bundle once
        times = [planner.plan_from_outputs(outputs, taken_poses=taken_poses).plan_ms for _ in range(repeats)]
        timings[str(72 * shells)] = round(float(np.median(times)), 3)
    return timings


def test_objects(cache: Path, split: str, limit: int) -> list[dict]:
    from vtr_perception.data.dataset import cached_records

    records = sorted(cached_records(cache, split=split), key=lambda r: r["key"])
    if not records:
        raise ValueError(f"cache {cache} has no objects in split {split!r}")
    return records[:limit]


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "data" / "pybullet64", help="dataset cache")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "models" / "reconstructor.pt")
    parser.add_argument(
        "--random-init", action="store_true", help="a randomly initialised model (develop the script; never publish)"
    )
    parser.add_argument("--split", default="test", help="held-out split to run on (default: test)")
    parser.add_argument("--objects", type=int, default=40, help="at most this many objects (default: 40)")
    parser.add_argument("--steps", type=int, default=5, help="views added after the initial one (default: 5)")
    parser.add_argument("--target-iou", type=float, default=0.6, help="IoU for 'views needed' (default: 0.6)")
    parser.add_argument("--initial-view-set", default="hemisphere", help="view set of the random first view")
    parser.add_argument(
        "--elevation-min-deg", type=float, default=0.0, help="lowest candidate elevation (default 0: a tabletop)"
    )
    parser.add_argument(
        "--elevation-max-deg",
        type=float,
        default=90.0,
        help="highest candidate elevation (default 90; 50 keeps the views near the 20-35 deg the model trained on)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--free-space-weight", type=float, default=None, help="override PlannerConfig.free_space_weight"
    )
    parser.add_argument("--spread-weight", type=float, default=None, help="override PlannerConfig.spread_weight")
    parser.add_argument(
        "--seen-surface-angle-deg", type=float, default=None, help="override PlannerConfig.seen_surface_angle_deg"
    )
    parser.add_argument(
        "--candidates", choices=("grid", "fibonacci"), default="grid", help="candidate directions (default: grid)"
    )
    parser.add_argument(
        "--num-candidates", type=int, default=None, help="Fibonacci directions on the whole sphere, before limits"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser


def planner_overrides(args: argparse.Namespace) -> dict:
    """The PlannerConfig fields the command line sets (candidate limits always, weights when given)."""
    overrides: dict = {
        "elevation_min_deg": args.elevation_min_deg,
        "elevation_max_deg": args.elevation_max_deg,
        "candidates": args.candidates,
    }
    for name in ("num_candidates", "free_space_weight", "spread_weight", "seen_surface_angle_deg"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    return overrides


def run_objects(args: argparse.Namespace, reconstruct, image_size: int, config, candidates, planners) -> tuple:
    """Every test object through every planner: IoU per step, planning times, the candidates each chose, and a
    3-view reconstruction (with 5 views taken) of the first object to time the planner alone on."""
    from vtr_perception.data.cache import read_object
    from vtr_perception.data.dataset import load_cached_mesh
    from vtr_perception.geometry.renderer import render_object_views

    records = test_objects(args.cache, args.split, args.objects)
    all_ious: dict[str, list[list[float]]] = {n: [] for n in PLANNERS}
    all_times: dict[str, list[float]] = {n: [] for n in PLANNERS}
    chosen: dict[str, list[int]] = {}
    for i, record in enumerate(tqdm(records, desc="nbv objects")):
        rng = np.random.default_rng([args.seed, i])
        az0, el0 = sample_views(args.initial_view_set, 1, rng)
        mesh = load_cached_mesh(args.cache, record["key"])
        gt = read_object(args.cache / record["file"])["voxels"].astype(np.float32)
        az = np.concatenate([az0, candidates.azimuth_deg])
        el = np.concatenate([el0, candidates.elevation_deg])
        rgb, _, poses, _ = render_object_views(mesh, az, el, size=image_size)
        images = np.ascontiguousarray(rgb.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        ious, times = run_object(
            reconstruct,
            images=images,
            poses=poses,
            gt=gt,
            steps=args.steps,
            rng=rng,
            config=config,
            planners=planners,
            chosen=chosen,
        )
        if i == 0:  # a 3-view reconstruction to time the planner on, with 5 views taken
            last_outputs = {
                k: v[0] for k, v in reconstruct(images[None, :3], poses[None, :3, :3, :3].astype(np.float32)).items()
            }
            last_taken = poses[:5]
        for name in PLANNERS:
            all_ious[name].append(ious[name])
            all_times[name].extend(times[name])

    return records, all_ious, all_times, chosen, (last_outputs, last_taken)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(2)
    if args.random_init and args.out == DEFAULT_OUT:
        raise ValueError("--random-init results must not replace benchmarks/results/nbv.json; pass --out")
    reconstruct, image_size = load_reconstructor(None if args.random_init else args.checkpoint)
    overrides = planner_overrides(args)
    config = benchmark_planner_config(**overrides)
    candidates = make_candidates(config)
    records, all_ious, all_times, chosen, (last_outputs, last_taken) = run_objects(
        args, reconstruct, image_size, config, candidates, make_planners(config)
    )
    planners = summarise(all_ious, all_times, args.target_iou)
    for name, picks in chosen.items():
        elevations = candidates.elevation_deg[picks]
        planners[name]["chosen_elevation_share"] = {
            f"{e:g}": round(float(np.mean(elevations == e)), 3) for e in np.unique(candidates.elevation_deg)
        }
    payload = {
        "planners": planners,
        "objects": len(records),
        "planner_only_ms_p50": time_planner(last_outputs, taken_poses=last_taken, **overrides),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "targets": targets(planners),
        "target_iou": args.target_iou,
        "iou_threshold": IOU_THRESHOLD,
        "steps": args.steps,
        "initial_view_set": args.initial_view_set,
        "split": args.split,
        "checkpoint": str(
            args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else args.checkpoint
        ),
        "planner_config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(config).items()},
        **run_metadata(),
    }
    atomic_write_json(args.out, payload)
    plot(planners, args.out.with_suffix(".png"), objects=len(records))
    for name, p in planners.items():
        print(f"{name:>10}: IoU {' '.join(f'{v:.3f}' for v in p['iou_per_step'])}  plan p50 {p['plan_ms_p50']:.1f} ms")
    print(f"targets: {payload['targets']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
