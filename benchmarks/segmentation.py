"""Depth table-top segmentation at camera resolution: time per frame and what it finds, in a cluttered room.

Frames are rendered from the simulated room (sim/room.py: walls, a counter and shelves with items,
chairs around the table) with a real sensor's depth noise (sim/depth_noise.py), from cameras on an
arc around the table, at each resolution asked for. ``segment_depth`` runs on each frame
``--repeats`` times after one warm-up call; the JSON gives p50/p95 ms per resolution. Each detection
is labelled by the true instance most of its mask covers: a table object (found) or anything else
(false: table, room, clutter). An object counts as visible when its true mask has at least
``--min-visible-px`` pixels at 640x480 (scaled with the image area).

    python benchmarks/segmentation.py [--scenes 2] [--views 6] [--sizes 640x480 1280x720] [--noise kinect_v1]

Wall times depend on the machine's load (the load average at the start and the end is recorded);
cpu_p50_ms is the process's CPU time per call (all its threads), less sensitive to other processes on a
shared machine. hinted_*: each frame after a scene's first with the previous frame's support plane as
``plane_hint``, as PerceptionPipeline runs it (the plane search is skipped while the hint fits).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Idle OpenMP threads (Open3D's DBSCAN) sleep instead of spinning on the shared cores (set before Open3D loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmarks._common import write_result  # noqa: E402
from vtr_perception.geometry.cameras import Intrinsics, look_at  # noqa: E402
from vtr_perception.perception.config import PerceptionConfig  # noqa: E402
from vtr_perception.perception.segmentation import segment_depth, segmentation_stride  # noqa: E402

TARGETS_MS = {"640x480": 30.0, "1280x720": 50.0}


def frames(scene, K: Intrinsics, views: int, noise: str, seed: int):
    """(depth with sensor noise, T_world_camera, true instance mask) along an arc around the table."""
    from vtr_perception.geometry.renderer import Renderer
    from vtr_perception.sim.depth_noise import apply_depth_noise, depth_noise_profile

    renderer = Renderer(scene.meshes())
    rng = np.random.default_rng(seed)
    profile = depth_noise_profile(noise)
    start = rng.uniform(0, 360)
    for az in np.radians(start + np.linspace(0.0, 180.0, views)):
        radius, height = rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.5)
        T = look_at(np.array([radius * np.cos(az), radius * np.sin(az), height]), np.array([0.0, 0.0, 0.04]))
        r = renderer.render(K, T)
        yield apply_depth_noise(r.depth, K, profile, rng), T, r.mask


def label_detections(detections, truth: np.ndarray, num_objects: int, min_visible: int) -> dict:
    """Found / missed visible objects, false and duplicate detections of one frame (ids 2.. are the objects)."""
    counts = np.bincount(truth.reshape(-1), minlength=num_objects + 2)
    visible = {i for i in range(2, num_objects + 2) if counts[i] >= min_visible}
    hit: list[int] = []
    false = 0
    for det in detections:
        ids, n = np.unique(truth[det.mask], return_counts=True)
        best = int(ids[np.argmax(n)])
        if 2 <= best < num_objects + 2:
            hit.append(best)
        else:
            false += 1
    return {
        "visible": len(visible),
        "found": len(visible & set(hit)),
        "false": false,
        "duplicates": len(hit) - len(set(hit)),
    }


def time_calls(call: tuple, hint, repeats: int, wall_ms: list[float], cpu_ms: list[float]) -> None:
    """Append wall and process CPU ms of ``repeats`` calls of ``segment_depth(*call, plane_hint=hint)``."""
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        segment_depth(*call, plane_hint=hint)
        wall_ms.append(1e3 * (time.perf_counter() - t0))
        cpu_ms.append(1e3 * (time.process_time() - c0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=2)
    p.add_argument("--views", type=int, default=6, help="camera poses per scene")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per frame (after one warm-up)")
    p.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"])
    p.add_argument("--fov", type=float, default=65.0, help="horizontal field of view (deg)")
    p.add_argument("--noise", default="kinect_v1", help="depth noise profile (sim/depth_noise.py)")
    p.add_argument("--source", default="procedural", help="mesh source of the table's objects")
    p.add_argument("--split", default="val")
    p.add_argument("--min-visible-px", type=int, default=1500, help="visible-object threshold at 640x480")
    p.add_argument("--out", default=None, help="result JSON (default benchmarks/results/segmentation.json)")
    args = p.parse_args(argv)

    from vtr_perception.sim.scenes import make_tabletop_scene

    load_start = os.getloadavg()[0]
    config = PerceptionConfig()
    scenes = [
        make_tabletop_scene(args.source, num_objects=3, split=args.split, seed=s, room=True) for s in range(args.scenes)
    ]
    runs = []
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        K = Intrinsics.from_fov(width, height, args.fov)
        min_visible = int(args.min_visible_px * width * height / (640 * 480))
        times: dict[str, list[float]] = {"ms": [], "cpu_ms": [], "hinted_ms": [], "hinted_cpu_ms": []}
        totals = {"visible": 0, "found": 0, "false": 0, "duplicates": 0, "frames": 0}
        for seed, scene in enumerate(scenes):
            hint = None  # the previous frame's plane, as PerceptionPipeline passes it (the table is world-fixed)
            for depth, T, truth in frames(scene, K, args.views, args.noise, seed):
                seg = segment_depth(depth, K, T, config)  # warm-up, and the detections scored
                call = (depth, K, T, config)
                time_calls(call, None, args.repeats, times["ms"], times["cpu_ms"])
                if hint is not None:
                    time_calls(call, hint, args.repeats, times["hinted_ms"], times["hinted_cpu_ms"])
                hint = seg.plane_world
                for key, value in label_detections(seg.detections, truth, len(scene.objects), min_visible).items():
                    totals[key] += value
                totals["frames"] += 1
        ms, cpu_ms = times["ms"], times["cpu_ms"]
        run = {
            "size": size,
            "stride": segmentation_stride(config, K),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),  # process CPU time: less sensitive to the load
            # with the previous frame's plane as a hint (the node's case): the plane search is skipped
            "hinted_p50_ms": float(np.percentile(times["hinted_ms"], 50)) if times["hinted_ms"] else None,
            "hinted_cpu_p50_ms": float(np.percentile(times["hinted_cpu_ms"], 50)) if times["hinted_ms"] else None,
            "target_p50_ms": TARGETS_MS.get(size),
            **totals,
            "found_fraction": totals["found"] / max(totals["visible"], 1),
            "false_per_frame": totals["false"] / max(totals["frames"], 1),
        }
        runs.append(run)
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()})
    payload = {
        "runs": runs,
        "scenes": args.scenes,
        "views": args.views,
        "noise": args.noise,
        "source": args.source,
        "split": args.split,
        "room": True,
        "load_average_1min": os.getloadavg()[0],  # the CPU is shared: timings depend on it
        "load_average_1min_start": load_start,
        "cpu_count": os.cpu_count(),
    }
    print("->", write_result("segmentation", payload, path=args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
