"""`vtr-perception demo`: closed-loop active reconstruction in simulation, through the real nodes.

sim_camera_node, reconstruction_node and nbv_node run as separate processes and talk over
DDS (localhost only, a private ROS_DOMAIN_ID). An in-process monitor node steps the loop
per object, measures each step against the simulated ground truth, and then the same is
repeated with random views for comparison. Results go to out/demo/.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from vtr_perception.io_utils import atomic_write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")
    parser.add_argument("--objects", type=int, default=3, help="objects on the table (default: 3)")
    parser.add_argument("--steps", type=int, default=5, help="views per object (default: 5)")
    parser.add_argument("--source", default="pybullet", help="mesh source of the held-out objects (default: pybullet)")
    parser.add_argument("--seed", type=int, default=0, help="scene and random-run seed")
    parser.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "onnxruntime", "torch"])
    parser.add_argument("--no-random", action="store_true", help="skip the random-view comparison run")
    parser.add_argument(
        "--keep-tracks",
        action="store_true",
        help="do not reset the reconstruction before each object: it then starts from the views "
        "its neighbours' runs gave it",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any one step")
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        metavar="SECONDS",
        help="end a run (NBV or random) that takes longer, with every thread's stack in the logs "
        "(default: the sum of its waits' timeouts, 23 min for 3 objects, 5 steps, --timeout 30)",
    )
    parser.add_argument("--rviz", action="store_true", help="also start rviz2 with the shipped config (if installed)")
    parser.add_argument("--record", metavar="PATH", help="write the simulated camera streams of the NBV run as a bag")
    parser.add_argument("--bag", metavar="PATH", help="play this ROS 2 bag into the nodes instead of the simulator")
    parser.add_argument(
        "--image-qos",
        choices=("reliable", "sensor_data"),
        default="reliable",
        help="--bag: QoS the reconstruction node subscribes to images with (default reliable: best effort lost "
        "most VGA frames of a played bag over UDP)",
    )
    parser.add_argument(
        "--remap",
        action="append",
        default=[],
        metavar="FROM:=TO",
        help="--bag: remap a node input to a topic of the bag, as ros2 run's -r (repeatable), e.g. "
        "image:=/camera/camera/color/image_raw; the bag's topics are played under their recorded names",
    )
    parser.add_argument(
        "--world-frame",
        metavar="FRAME",
        help="--bag: the fixed frame of the bag's TF (e.g. odom or map) for both nodes and for the camera poses "
        "the player derives from TF (default: the nodes' world_frame parameter, world)",
    )


def parse_remaps(values: list[str]) -> dict[str, str]:
    """``--remap FROM:=TO`` values as a dict; a malformed one is a ValueError naming it."""
    remaps = {}
    for value in values:
        src, sep, dst = value.partition(":=")
        if not sep or not src.strip() or not dst.strip():
            raise ValueError(f"--remap expects FROM:=TO (e.g. image:=/camera/color/image_raw), got {value!r}")
        remaps[src.strip()] = dst.strip()
    return remaps


def step_entry(step) -> dict:
    """One step of a run in summary.json (the same fields for the NBV and the random run)."""
    return {
        "views": step.views,
        "iou": step.iou,
        "fscore": step.fscore,
        "translation_cm": step.translation_cm,
        "latency_ms": step.latency_ms,
        "planner": step.planner,
        "camera_pose": step.camera_pose,
    }


def write_outputs(out: Path, scene, nbv_runs: list, random_runs: list) -> dict:
    from vtr_perception.geometry.meshing import grid_to_mesh, save_mesh
    from vtr_perception.geometry.voxels import Normalization

    summary, poses = {"objects": []}, {"frame": "world", "objects": []}
    for obj, run in zip(scene.objects, nbv_runs, strict=False):
        entry = {
            "id": int(run.track_id) if run.track_id is not None else -1,
            "name": obj.key,
            "category": obj.category,
            "nbv": [step_entry(s) for s in run.steps],
            "random": [],
        }
        rnd = next((r for r in random_runs if r.object_index == obj.index), None)
        if rnd is not None:
            entry["random"] = [step_entry(s) for s in rnd.steps]
        summary["objects"].append(entry)
        if run.grid_last is not None:
            g = run.grid_last
            norm = Normalization(center=np.asarray(g.center), scale=1.0 / g.extent)
            mesh = grid_to_mesh(run.occupancy_last, threshold=0.4, normalization=norm)
            if len(mesh.triangles):
                save_mesh(mesh, out / f"object_{obj.index}_{obj.key}.ply")
        save_mesh(obj.mesh, out / f"object_{obj.index}_{obj.key}_truth.ply")
        poses["objects"].append({
            "id": entry["id"], "name": obj.key,
            "true_position": obj.center.tolist(), "true_rotation": obj.T_world_object[:3, :3].tolist(),
            "estimated_position": run.position_last,
            "translation_error_cm": run.steps[-1].translation_cm if run.steps else None,
        })  # fmt: skip
    summary["criteria"] = criteria(summary["objects"])
    atomic_write_json(out / "summary.json", summary)
    atomic_write_json(out / "poses.json", poses)
    return summary


def criteria(objects: list[dict]) -> dict:
    """The main job's checks: per object, the last view's IoU above the first's and NBV at or above random."""
    rose = [o["name"] for o in objects if len(o["nbv"]) > 1 and o["nbv"][-1]["iou"] > o["nbv"][0]["iou"]]
    compared = [o for o in objects if o["nbv"] and o["random"]]
    above = [o["name"] for o in compared if o["nbv"][-1]["iou"] >= o["random"][-1]["iou"]]
    return {"objects": len(objects), "last_above_first": rose, "random_compared": len(compared),
            "nbv_at_or_above_random": above}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from vtr_perception.sim.scenes import make_tabletop_scene

    if args.objects < 1 or args.steps < 1:
        raise ValueError("--objects and --steps must be at least 1")
    if args.deadline is not None and not args.deadline > 0:
        raise ValueError(f"--deadline must be positive, got {args.deadline}")
    try:
        from vtr_perception.ros.demo_runner import demo_environment, demo_namespace, run_bag, run_loop
    except ImportError as exc:
        raise ValueError(
            f"the demo needs ROS 2 (rclpy): source a ROS 2 install or `pip install -r requirements/ros.txt` ({exc})"
        ) from exc

    from vtr_perception.deadline import DeadlineExceeded
    from vtr_perception.ros.demo_monitor import DemoError

    if args.bag:
        args.remaps = parse_remaps(args.remap)
        try:
            return run_bag(args)
        except DemoError as exc:
            print(f"vtr-perception demo: error: {exc}", file=sys.stderr)
            return 1
    out = Path(args.out)
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = demo_environment()
    t0 = time.monotonic()
    scene = make_tabletop_scene(args.source, num_objects=args.objects, seed=args.seed)
    print(f"scene: {', '.join(f'{o.key} ({o.category}, {o.size * 100:.0f} cm)' for o in scene.objects)}")
    topics = f", topics under {demo_namespace(args)}/" if demo_namespace(args) else ""
    print(f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} (localhost only){topics}; node logs in {log_dir}")
    try:
        print("NBV run:")
        nbv_runs = run_loop(args, "nbv", scene, env, log_dir)
        random_runs = []
        if not args.no_random:
            print("random-view run:")
            random_runs = run_loop(args, "random", scene, env, log_dir)
    except (DemoError, DeadlineExceeded) as exc:
        print(f"vtr-perception demo: error: {exc}", file=sys.stderr)
        return 1
    summary = write_outputs(out, scene, nbv_runs, random_runs)
    from vtr_perception.commands.demo_report import write_report

    write_report(out / "report.png", scene, nbv_runs, random_runs)
    print(f"done in {time.monotonic() - t0:.0f} s: {out}/summary.json, poses.json, report.png, meshes")
    for entry in summary["objects"]:
        first = entry["nbv"][0]["iou"] if entry["nbv"] else float("nan")
        last = entry["nbv"][-1]["iou"] if entry["nbv"] else float("nan")
        rnd = entry["random"][-1]["iou"] if entry["random"] else float("nan")
        print(f"  {entry['name']:<24} IoU first {first:.3f} -> last {last:.3f} (random last {rnd:.3f})")
    c = summary["criteria"]
    line = f"last view above the first for {len(c['last_above_first'])} of {c['objects']} objects"
    if c["random_compared"]:
        line += f"; NBV at or above random for {len(c['nbv_at_or_above_random'])} of {c['random_compared']}"
    print(line)
    return 0
