"""`vtr-perception demo`: closed-loop active reconstruction in simulation, through the real nodes.

sim_camera_node, reconstruction_node and nbv_node run as separate processes and talk over
DDS (localhost only, a private ROS_DOMAIN_ID). An in-process monitor node steps the loop
per object, measures each step against the simulated ground truth, and then the same is
repeated with random views for comparison. Results go to out/demo/.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vtr_perception.io_utils import atomic_write_json

NODE_MODULES = {
    "sim_camera": "vtr_perception.ros.sim_camera_node",
    "reconstruction": "vtr_perception.ros.reconstruction_node",
    "nbv": "vtr_perception.ros.nbv_node",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")
    parser.add_argument("--objects", type=int, default=3, help="objects on the table (default: 3)")
    parser.add_argument("--steps", type=int, default=5, help="views per object (default: 5)")
    parser.add_argument("--source", default="procedural", help="mesh source of the held-out objects")
    parser.add_argument("--seed", type=int, default=0, help="scene and random-run seed")
    parser.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "onnxruntime", "torch"])
    parser.add_argument("--no-random", action="store_true", help="skip the random-view comparison run")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any one step")
    parser.add_argument("--rviz", action="store_true", help="also start rviz2 with the shipped config (if installed)")
    parser.add_argument("--record", metavar="PATH", help="write the simulated camera streams of the NBV run as a bag")
    parser.add_argument("--bag", metavar="PATH", help="play this ROS 2 bag into the nodes instead of the simulator")


def ros_environment() -> dict[str, str]:
    """A private DDS domain on localhost, so the demo never talks to other ROS graphs."""
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    # Fast DDS's shared-memory transport stalls image-sized messages on a loaded machine
    # (poses and camera_info arrived seconds late in the node tests); UDP on loopback does not.
    env.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "UDPv4")
    return env


def start_node(name: str, params: dict, remaps: dict[str, str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    """Start a node process with its shipped parameter file (config/<node>.yaml) plus ``params``."""
    from vtr_perception.resources import package_file

    args = [sys.executable, "-m", NODE_MODULES[name], "--ros-args"]
    yaml_name = {"sim_camera": "sim_camera", "reconstruction": "reconstruction", "nbv": "nbv"}[name]
    args += ["--params-file", str(package_file(f"config/{yaml_name}.yaml"))]
    for key, value in params.items():
        if isinstance(value, bool):
            value = str(value).lower()
        args += ["-p", f"{key}:={value}"]
    for src, dst in remaps.items():
        args += ["-r", f"{src}:={dst}"]
    log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_nodes(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    deadline = time.monotonic() + 5.0
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def run_loop(args: argparse.Namespace, planner: str, scene, env: dict[str, str], log_dir: Path) -> list:
    """One closed-loop run over every object; returns the per-object ObjectRun list."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from vtr_perception.ros.demo_monitor import DemoMonitor

    scene_params = {"source": args.source, "num_objects": args.objects, "seed": args.seed, "rate_hz": 4.0}
    procs = [start_node("sim_camera", scene_params, {"next_best_view": "camera_goal"}, env, log_dir)]
    procs.append(start_node("reconstruction", {"backend": args.backend}, {}, env, log_dir))
    if planner == "nbv":
        # a fixed number of views per object: the planner never stops early here
        procs.append(start_node("nbv", {"planner.stop_gain": 0.0}, {}, env, log_dir))
    if args.rviz:
        procs.extend(start_rviz(env, log_dir))
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    monitor = DemoMonitor(scene, planner=planner, seed=args.seed + 1, context=context)
    recorder = None
    if args.record and planner == "nbv":
        from vtr_perception.ros.bag import BagRecorder

        recorder = BagRecorder(monitor, args.record)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(monitor)
    import threading

    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    runs = []
    try:
        if not monitor._wait(lambda: monitor.camera_pose is not None, 60.0):
            raise RuntimeError(f"the simulated camera did not start; see {log_dir}/sim_camera.log")
        for obj in scene.objects:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a node exited (status {p.returncode}); see the logs in {log_dir}")
            runs.append(monitor.run_object(obj, steps=args.steps, timeout=args.timeout))
    finally:
        executor.shutdown()
        if recorder is not None:
            recorder.close()
            print(f"recorded {recorder.count} messages to {args.record}")
        monitor.destroy_node()
        rclpy.shutdown(context=context)
        stop_nodes(procs)
    return runs


def run_bag(args: argparse.Namespace) -> int:
    """Play a recorded camera run into the reconstruction and nbv nodes; write the final meshes and poses."""
    import threading

    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from vtr_perception.geometry.meshing import grid_to_mesh, save_mesh
    from vtr_perception.geometry.voxels import Normalization
    from vtr_perception.ros.bag import play_into
    from vtr_perception.ros.demo_monitor import DemoMonitor

    out = Path(args.out)
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = ros_environment()
    procs = [
        start_node("reconstruction", {"backend": args.backend}, {}, env, log_dir),
        start_node("nbv", {}, {}, env, log_dir),
    ]
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    monitor = DemoMonitor(None, planner="bag", seed=args.seed, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(monitor)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        time.sleep(5.0)  # the reconstruction node loads its model
        n = play_into(monitor, args.bag)
        monitor._wait(lambda: False, 3.0)  # let the last frames be processed
        print(f"played {n} messages from {args.bag}")
        with monitor._cond:
            grids, views, positions = dict(monitor.grids), dict(monitor.view_counts), dict(monitor.positions)
    finally:
        executor.shutdown()
        monitor.destroy_node()
        rclpy.shutdown(context=context)
        stop_nodes(procs)
    summary, poses = {"objects": []}, {"frame": "world", "objects": []}
    for i, g in sorted(grids.items()):
        mesh = grid_to_mesh(
            g.occupancy, threshold=0.4, normalization=Normalization(center=g.center, scale=1 / g.extent)
        )
        if len(mesh.triangles):
            save_mesh(mesh, out / f"object_{i}.ply")
        summary["objects"].append({"id": i, "name": f"object_{i}", "views": views.get(i, 0), "nbv": [], "random": []})
        pos = positions.get(i)
        poses["objects"].append({"id": i, "estimated_position": None if pos is None else [float(v) for v in pos]})
    atomic_write_json(out / "summary.json", summary)
    atomic_write_json(out / "poses.json", poses)
    print(f"{len(grids)} objects reconstructed from the bag: {out}")
    return 0 if grids else 1


def start_rviz(env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    import shutil

    rviz = shutil.which("rviz2")
    if rviz is None:
        print("rviz2 is not installed here: running without it (install ROS 2 desktop to see the demo live)")
        return []
    from vtr_perception.resources import package_file

    config = package_file("rviz/vtr_perception.rviz")
    log = open(log_dir / "rviz2.log", "w")  # noqa: SIM115
    return [subprocess.Popen([rviz, "-d", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)]  # fmt: skip


def write_outputs(out: Path, scene, nbv_runs: list, random_runs: list) -> dict:
    from vtr_perception.geometry.meshing import grid_to_mesh, save_mesh
    from vtr_perception.geometry.voxels import Normalization

    summary, poses = {"objects": []}, {"frame": "world", "objects": []}
    for obj, run in zip(scene.objects, nbv_runs, strict=False):
        entry = {
            "id": int(run.track_id) if run.track_id is not None else -1,
            "name": obj.key,
            "category": obj.category,
            "nbv": [
                {
                    "views": s.views,
                    "iou": s.iou,
                    "fscore": s.fscore,
                    "translation_cm": s.translation_cm,
                    "latency_ms": s.latency_ms,
                    "planner": s.planner,
                    "camera_pose": s.camera_pose,
                }
                for s in run.steps
            ],  # fmt: skip
            "random": [],
        }
        rnd = next((r for r in random_runs if r.object_index == obj.index), None)
        if rnd is not None:
            entry["random"] = [{"views": s.views, "iou": s.iou, "fscore": s.fscore} for s in rnd.steps]
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
    atomic_write_json(out / "summary.json", summary)
    atomic_write_json(out / "poses.json", poses)
    return summary


def run(args: argparse.Namespace) -> int:
    from vtr_perception.data.scenes import make_tabletop_scene

    if args.objects < 1 or args.steps < 1:
        raise ValueError("--objects and --steps must be at least 1")
    if args.bag:
        return run_bag(args)
    out = Path(args.out)
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = ros_environment()
    t0 = time.monotonic()
    scene = make_tabletop_scene(args.source, num_objects=args.objects, seed=args.seed)
    print(f"scene: {', '.join(f'{o.key} ({o.category}, {o.size * 100:.0f} cm)' for o in scene.objects)}")
    print(f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} (localhost only); node logs in {log_dir}")
    print("NBV run:")
    nbv_runs = run_loop(args, "nbv", scene, env, log_dir)
    random_runs = []
    if not args.no_random:
        print("random-view run:")
        random_runs = run_loop(args, "random", scene, env, log_dir)
    summary = write_outputs(out, scene, nbv_runs, random_runs)
    from vtr_perception.commands.demo_report import write_report

    write_report(out / "report.png", scene, nbv_runs, random_runs)
    print(f"done in {time.monotonic() - t0:.0f} s: {out}/summary.json, poses.json, report.png, meshes")
    for entry in summary["objects"]:
        first = entry["nbv"][0]["iou"] if entry["nbv"] else float("nan")
        last = entry["nbv"][-1]["iou"] if entry["nbv"] else float("nan")
        rnd = entry["random"][-1]["iou"] if entry["random"] else float("nan")
        print(f"  {entry['name']:<24} IoU first {first:.3f} -> last {last:.3f} (random last {rnd:.3f})")
    return 0
