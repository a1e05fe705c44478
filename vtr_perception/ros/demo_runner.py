"""Runs the demo's node processes and its conductor over DDS (used by `vtr-perception demo`).

The ROS half of the demo: it starts sim_camera_node, reconstruction_node and nbv_node as
processes on a private domain, drives the loop with the DemoMonitor node, and plays bags.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor

from vtr_perception.deadline import Deadline
from vtr_perception.io_utils import atomic_write_json
from vtr_perception.ros.demo_monitor import DemoError, DemoMonitor
from vtr_perception.ros.environment import ros_environment

NODE_MODULES = {
    "sim_camera": "vtr_perception.ros.sim_camera_node",
    "reconstruction": "vtr_perception.ros.reconstruction_node",
    "nbv": "vtr_perception.ros.nbv_node",
}


def demo_environment() -> dict[str, str]:
    env = ros_environment()
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def start_node(name: str, params: dict, remaps: dict[str, str], env: dict[str, str], log_dir: Path,
               log_suffix: str = "") -> subprocess.Popen:  # fmt: skip
    """Start a node process with its shipped parameter file (config/<node>.yaml) plus ``params``; its output goes
    to ``log_dir/<name><log_suffix>.log``."""
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
    log = open(log_dir / f"{name}{log_suffix}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def planner_view_limits() -> dict:
    """The view limits of the shipped nbv_node parameters (config/nbv.yaml), as DemoMonitor arguments."""
    from vtr_perception.nbv.candidates import candidate_distances
    from vtr_perception.nbv.config import PlannerConfig
    from vtr_perception.resources import shipped_parameters

    config = PlannerConfig(**shipped_parameters("nbv").get("planner", {}))
    return {
        "elevation_deg": (float(config.elevation_min_deg), float(config.elevation_max_deg)),
        "min_angle_deg": float(config.min_angle_from_taken_deg),
        "view_distances": tuple(candidate_distances(config).tolist()),
    }


def first_exit(nodes: dict[str, subprocess.Popen], log_dir: Path, log_suffix: str = "") -> str | None:
    """'<name>_node exited (status N); see <log>' for the first of ``nodes`` no longer running, else None."""
    for name, p in nodes.items():
        if p.poll() is not None:
            return f"{name}_node exited (status {p.returncode}); see {log_dir / f'{name}{log_suffix}.log'}"
    return None


def demo_namespace(args: argparse.Namespace) -> str:
    """The ROS namespace of one demo's nodes and conductor: this process's own, so a second demo or a test that
    drew the same random ROS_DOMAIN_ID on this machine does not mix its messages with ours (seen: another
    graph's objects/error clouds taken for this demo's objects). The root namespace with --rviz, whose shipped
    config names the topics from the root."""
    return "" if getattr(args, "rviz", False) else f"/vtr_demo_{os.getpid()}"


def foreign_graph(monitor, env: dict[str, str]) -> str | None:
    """A warning when more than one camera or reconstruction node publishes on this domain: another ROS graph
    (another demo or test on this machine) chose the same ROS_DOMAIN_ID and its messages mix with ours."""
    counts = {topic: monitor.count_publishers(topic) for topic in ("camera_pose", "objects/error")}
    if max(counts.values()) <= 1:
        return None
    seen = ", ".join(f"{n} {topic} publishers" for topic, n in counts.items())
    return (
        f"warning: another ROS graph shares ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} ({seen}); its messages mix "
        "with the demo's: set ROS_DOMAIN_ID to a domain nothing else uses"
    )


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


def run_deadline_s(args: argparse.Namespace) -> float:
    """The longest one run can take when every wait of it times out (DemoMonitor.run_object's waits: the initial
    view, reset_reconstruction's three, then per step the new view's use, its objects/poses and the next
    suggestion), the minute the first camera pose may take and one timeout of slack: a run past it is stuck
    outside any wait."""
    per_object = 4 * args.timeout + args.steps * (2 * args.timeout + 1.0)
    return 60.0 + args.timeout + args.objects * per_object


def run_loop(args: argparse.Namespace, planner: str, scene, env: dict[str, str], log_dir: Path) -> list:
    """One closed-loop run over every object; returns the per-object ObjectRun list.

    Raises DemoError when a node is missing or exits (any wait notices it within NODE_CHECK_S), DeadlineExceeded
    (its stacks in ``log_dir``) when the run outlives ``--deadline`` (default run_deadline_s)."""
    scene_params = {"source": args.source, "num_objects": args.objects, "seed": args.seed, "rate_hz": 4.0}
    suffix = "" if planner == "nbv" else f"_{planner}"  # the random run's logs beside the NBV run's
    namespace = demo_namespace(args)
    ns = {"__ns": namespace} if namespace else {}
    nodes = {"sim_camera": start_node("sim_camera", scene_params, {"next_best_view": "camera_goal", **ns}, env,
                                      log_dir, suffix)}  # fmt: skip
    nodes["reconstruction"] = start_node("reconstruction", {"backend": args.backend}, ns, env, log_dir, suffix)
    if planner == "nbv":
        # a fixed number of views per object: the planner never stops early here
        nodes["nbv"] = start_node(
            "nbv", {"planner.stop_gain": 0.0, "planner.stop_information_gain": 0.0}, ns, env, log_dir, suffix
        )
    procs = list(nodes.values())
    if args.rviz:  # not watched: closing its window is no fault of the loop
        procs.extend(start_rviz(env, log_dir))
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    monitor = DemoMonitor(
        scene,
        planner=planner,
        seed=args.seed + 1,
        reset_per_object=not args.keep_tracks,
        node_failure=lambda: first_exit(nodes, log_dir, suffix),
        context=context,
        namespace=namespace or None,
        **planner_view_limits(),
    )
    recorder = None
    if args.record and planner == "nbv":
        from vtr_perception.ros.bag import BagRecorder

        recorder = BagRecorder(monitor, args.record)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(monitor)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    runs = []
    seconds = args.deadline if args.deadline is not None else run_deadline_s(args)
    try:
        with Deadline(seconds, log_dir / f"stacks_{planner}.txt", what=f"the {planner} run"):
            if not monitor._wait(lambda: monitor.camera_pose is not None, 60.0):
                raise DemoError(f"the simulated camera did not start; see {log_dir}/sim_camera{suffix}.log")
            warned = False
            for obj in scene.objects:
                if (failure := first_exit(nodes, log_dir, suffix)) is not None:
                    raise DemoError(failure)
                if not warned and (warning := foreign_graph(monitor, env)) is not None:
                    print(warning)
                    warned = True
                runs.append(monitor.run_object(obj, steps=args.steps, timeout=args.timeout))
        if monitor.resent:  # messages DDS lost (or answered late): see demo_monitor.RESEND_S
            print("sent again when unanswered: " + ", ".join(f"{what} {n}x" for what, n in monitor.resent.items()))
    finally:
        executor.shutdown()
        if recorder is not None:
            recorder.close()
            per_topic = ", ".join(f"{name} {n}" for name, n in recorder.counts.items())
            print(f"recorded {recorder.count} messages to {args.record} ({per_topic})")
        monitor.destroy_node()
        rclpy.shutdown(context=context)
        stop_nodes(procs)
    return runs


def bag_node_parameters(args: argparse.Namespace) -> dict:
    """reconstruction_node parameters for `demo --bag`: the backend, the image QoS (reliable by default) and
    ``--world-frame`` where given."""
    qos = getattr(args, "image_qos", "reliable")
    return {"backend": args.backend, "image_qos": qos, **_world_frame_parameter(args)}


def _world_frame_parameter(args: argparse.Namespace) -> dict:
    frame = getattr(args, "world_frame", None)
    return {"world_frame": frame} if frame else {}


def bag_world_frame(args: argparse.Namespace) -> str:
    """The nodes' fixed frame in `demo --bag`: ``--world-frame``, else the shipped parameters' world_frame."""
    if getattr(args, "world_frame", None):
        return args.world_frame
    from vtr_perception.resources import shipped_parameters
    from vtr_perception.ros.reconstruction_node import ReconstructionNodeConfig

    return shipped_parameters("reconstruction").get("world_frame", ReconstructionNodeConfig().world_frame)


def settle(monitor: DemoMonitor, *, quiet_s: float = 3.0, timeout_s: float = 30.0) -> bool:
    """Wait until the reconstruction node has caught up with a played bag: no ``objects/error`` update for
    ``quiet_s`` and the object positions of the last update received (at most ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        updates = monitor.updates
        wait_s = min(quiet_s, max(deadline - time.monotonic(), 0.0))
        changed = monitor._wait(lambda n=updates: monitor.updates != n, wait_s)
        with monitor._cond:
            if not changed and monitor.positions_stamp == monitor.grid_stamp:
                return True
    return False


def run_bag(args: argparse.Namespace) -> int:
    """Play a recorded camera run into the reconstruction and nbv nodes; write the final meshes and poses.

    Raises DemoError when the bag cannot be read: before any node starts where opening it shows that."""
    from vtr_perception.geometry.meshing import grid_to_mesh, save_mesh
    from vtr_perception.geometry.voxels import Normalization
    from vtr_perception.ros.bag import check_bag, play_into, topic_name

    remaps, world_frame = getattr(args, "remaps", {}), bag_world_frame(args)
    try:
        check_bag(args.bag, image_topic=topic_name(remaps, "image"))
    except (FileNotFoundError, ValueError) as exc:
        raise DemoError(str(exc)) from None
    out = Path(args.out)
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = demo_environment()
    nodes = {
        "reconstruction": start_node("reconstruction", bag_node_parameters(args), remaps, env, log_dir),
        "nbv": start_node("nbv", _world_frame_parameter(args), remaps, env, log_dir),
    }
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=int(env["ROS_DOMAIN_ID"]))  # not argv: --remap is for the nodes
    monitor = DemoMonitor(
        None, planner="bag", seed=args.seed, context=context, node_failure=lambda: first_exit(nodes, log_dir)
    )
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(monitor)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        try:  # waits for the reconstruction node's image subscription (it loads its model first)
            n = play_into(monitor, args.bag, remaps=remaps, world_frame=world_frame)
        except ValueError as exc:  # damage that only reading the messages shows
            raise DemoError(str(exc)) from None
        except TimeoutError as exc:  # the reconstruction node never subscribed
            raise DemoError(first_exit(nodes, log_dir) or f"{exc}; see {log_dir}/reconstruction.log") from None
        settle(monitor, timeout_s=args.timeout)
        print(f"played {n} messages from {args.bag}")
        with monitor._cond:
            grids, views, positions = dict(monitor.grids), dict(monitor.view_counts), dict(monitor.positions)
    finally:
        executor.shutdown()
        monitor.destroy_node()
        rclpy.shutdown(context=context)
        stop_nodes(list(nodes.values()))
    summary, poses = {"objects": []}, {"frame": world_frame, "objects": []}
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
