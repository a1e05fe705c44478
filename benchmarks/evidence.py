"""Cost of the measured-evidence layer: integrating a frame, re-integrating kept frames, fusing, planning.

One simulated table-top scene (sim/camera.py, the chosen depth noise); the first object's track cube is
taken from the truth (its bounding box), frames from a ring of poses around it. Reports per object:
ms to integrate one frame (target <= 5 ms on the 2-core development machine), ms to re-integrate
``evidence_max_frames`` frames into a moved cube, ms to fuse with a network grid, and the planner's ms
with ``estimator`` information_gain (target < 20 ms; its ray bundle is cached after the first call).
Times are CPU time of this process (``time.process_time``): on a shared machine the wall time mostly
measures the other jobs; the planner's wall time is reported too.

    python benchmarks/evidence.py [--depth-noise realsense_d435] [--frames 24]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, write_result  # noqa: E402

from vtr_perception.geometry import cameras  # noqa: E402
from vtr_perception.nbv.planner import NextBestViewPlanner  # noqa: E402
from vtr_perception.perception.evidence import EvidenceGrid, clean_depth, make_frame  # noqa: E402
from vtr_perception.perception.fusion import fuse  # noqa: E402
from vtr_perception.sim.camera import SimCamera, SimCameraConfig  # noqa: E402
from vtr_perception.sim.depth_noise import PROFILES  # noqa: E402
from vtr_perception.sim.loop import demo_planner_config, shipped_perception_config  # noqa: E402


def _ms(times: list[float]) -> dict[str, float]:
    a = np.asarray(times)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth-noise", default="realsense_d435", choices=list(PROFILES))
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--source", default="pybullet")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "evidence.json")
    args = parser.parse_args(argv)

    config = shipped_perception_config()
    camera = SimCamera(SimCameraConfig(source=args.source, split="val", seed=1, depth_noise=args.depth_noise))
    obj = camera.scene.objects[0]
    lo, hi = obj.mesh.vertices.min(axis=0), obj.mesh.vertices.max(axis=0)
    center, side = 0.5 * (lo + hi), float((hi - lo).max())
    grid = EvidenceGrid(config, 32)
    grid.follow(center, side)
    integrate, frames = [], []
    for i in range(args.frames):
        pose = cameras.camera_from_angles(360.0 * i / args.frames, 20.0 + 15.0 * (i % 3), 0.5, target=center)
        camera.move_to(pose)
        frame = camera.render()
        own = frame.mask == 2  # renderer instance ids: 1 the table, 2 the first object
        t0 = time.process_time()
        record = make_frame(clean_depth(frame.depth, config), own, camera.intrinsics, pose, center, side, 32, config)
        grid.integrate(record)
        integrate.append(1e3 * (time.process_time() - t0))
        frames.append(record)
    t0 = time.process_time()
    grid.follow(center + 0.01, side * 1.1)
    reintegrate_ms = 1e3 * (time.process_time() - t0)
    network = np.full((32, 32, 32), 0.3, np.float32)
    fusion = []
    for _ in range(10):
        t0 = time.process_time()
        post = fuse(network, np.full_like(network, 0.2), grid.logodds, config)
        fusion.append(1e3 * (time.process_time() - t0))
    planner = NextBestViewPlanner(demo_planner_config(estimator="information_gain"))
    plans, cpu_plans = [], []
    for _ in range(6):
        c0 = time.process_time()
        result = planner.plan(post.uncertainty, post.occupancy, state=post.state, center=grid.center, extent=grid.side)
        plans.append(result.plan_ms)
        cpu_plans.append(1e3 * (time.process_time() - c0))
    payload = {
        "depth_noise": args.depth_noise,
        "frames": args.frames,
        "resolution": 32,
        "integrate_frame": _ms(integrate),
        "reintegrate_all_frames_ms": round(reintegrate_ms, 2),
        "reintegrated_frames": len(grid),
        "fuse": _ms(fusion),
        "plan_information_gain_first_cpu_ms": round(cpu_plans[0], 1),
        "plan_information_gain_cpu": _ms(cpu_plans[1:]),
        "plan_information_gain_wall": _ms(plans[1:]),
        "note": "CPU ms of this process (wall for plan_*_wall) on a shared 2-core machine under load from other jobs",
    }
    path = write_result("evidence", payload, path=args.out)
    print(payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
