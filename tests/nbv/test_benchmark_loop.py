"""The closed-loop benchmark's loop, driven by a real (non-learned) reconstructor: space carving."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from vtr_perception.geometry.cameras import RENDER_FOV_DEG, Intrinsics, invert, transform_points
from vtr_perception.geometry.view_sets import sample_views
from vtr_perception.nbv.candidates import make_candidates

pytest.importorskip("torch", reason="the benchmarks need the development set (make setup), not the run-time one")

ROOT = Path(__file__).resolve().parents[2]
R = 16
SIZE = 48


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("nbv_benchmark", ROOT / "benchmarks" / "nbv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _centers():
    c = (np.arange(R) + 0.5) / R - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1).reshape(-1, 3)


def _carver(gt):
    """Occupancy = voxels whose centre projects inside every view's silhouette of ``gt`` (a visual hull)."""
    intrinsics = Intrinsics.from_fov(SIZE, SIZE, RENDER_FOV_DEG)
    centers = _centers()
    occupied = centers[gt.reshape(-1) > 0.5]

    def pixels(T, points):
        uv = intrinsics.project(transform_points(invert(T), points))
        return np.clip(np.floor(uv).astype(int), 0, SIZE - 1)

    def reconstruct(images, rotations):
        B, V = rotations.shape[:2]
        views = np.zeros((B, V, R, R, R), dtype=np.float32)
        for b in range(B):
            for v in range(V):
                T = np.eye(4)
                T[:3, :3] = rotations[b, v]
                T[:3, 3] = -2.0 * rotations[b, v][:, 2]  # look-at cameras at the render distance
                mask = np.zeros((SIZE, SIZE), dtype=bool)
                for du in (-1, 0, 1):
                    for dv in (-1, 0, 1):
                        uv = np.clip(pixels(T, occupied) + [du, dv], 0, SIZE - 1)
                        mask[uv[:, 1], uv[:, 0]] = True
                uv = pixels(T, centers)
                views[b, v] = mask[uv[:, 1], uv[:, 0]].reshape(R, R, R)
        occupancy = views.min(axis=1)
        return {"occupancy": occupancy, "error": np.zeros_like(occupancy), "view_occupancy": views}

    return reconstruct


def test_closed_loop_runs_every_planner_and_writes_the_design_schema(tmp_path):
    bench = _load_benchmark()
    gt = np.zeros((R, R, R), dtype=np.float32)
    gt[3:13, 5:11, 2:8] = 1.0
    gt[3:6, 5:11, 8:14] = 1.0  # an L shape: some views carve much more than others
    config = bench.benchmark_planner_config(rays=12)
    candidates = make_candidates(config)
    rng = np.random.default_rng(0)
    az0, el0 = sample_views("sphere", 1, rng)
    from vtr_perception.geometry.cameras import camera_from_angles

    poses = np.concatenate([camera_from_angles(az0, el0, 2.0), candidates.poses])
    images = np.zeros((len(poses), 3, 4, 4), dtype=np.float32)  # the carver reads the poses only
    steps = 3
    ious, times = bench.run_object(_carver(gt), images=images, poses=poses, gt=gt, steps=steps, rng=rng, config=config)
    assert set(ious) == set(bench.PLANNERS)
    for name in bench.PLANNERS:
        curve = np.asarray(ious[name])
        assert curve.shape == (steps + 1,) and len(times[name]) == steps
        assert np.all(np.diff(curve) >= -1e-9)  # a visual hull only shrinks towards the object
        assert curve[0] == pytest.approx(ious["random"][0])  # every planner starts from the same view
    assert ious["oracle"][-1] > ious["oracle"][0]

    planners = bench.summarise({n: [ious[n], ious[n]] for n in ious}, times, target=0.5)
    for p in planners.values():
        assert len(p["iou_per_step"]) == steps + 1 and isinstance(p["plan_ms_p50"], float)
    checks = bench.targets(planners)
    assert set(checks) >= {"error_head_beats_random_and_farthest_from_view_2", "gap_closed_at_3_views"}
    json.dumps({"planners": planners, "objects": 2, "targets": checks})  # plain JSON numbers
    bench.plot(planners, tmp_path / "nbv.png", objects=2)
    assert (tmp_path / "nbv.png").stat().st_size > 1000


def test_views_to_target_counts_views_not_steps():
    bench = _load_benchmark()
    assert bench.views_to_target(np.array([0.2, 0.5, 0.7]), 0.5) == 2.0
    assert bench.views_to_target(np.array([0.2, 0.3]), 0.5) == float("inf")
