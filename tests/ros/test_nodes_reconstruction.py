"""sim_camera_node -> reconstruction_node over real DDS: meshes, poses, ids, error clouds, parameters, saved meshes.

Both nodes run as separate processes (started once for this module); this process listens
like rviz would. The simulated camera orbits a two-object table-top scene; the same scene is
rebuilt here (make_tabletop_scene, same parameters) as ground truth. The reconstruction node
runs the trained model when models/reconstructor.pt exists, else a tiny random one (then the
IoU floor test is skipped and says which file is missing).
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

import yaml  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters  # noqa: E402
from rclpy.parameter import Parameter, parameter_value_to_python  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import Int32MultiArray  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from tests.ros.helpers import REPO, isolated_node, spin_until  # noqa: E402
from tests.ros.node_processes import (  # noqa: E402
    NodeProcess,
    any_model_params,
    diagnostic_values,
    trained_backend_params,
)
from vtr_perception.nbv.object_grid import grids_from_cloud  # noqa: E402
from vtr_perception.resources import section_parameters  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.marker_scene import MarkerScene  # noqa: E402
from vtr_perception.ros.qos import latched_qos, reliable_qos  # noqa: E402
from vtr_perception.ros.reconstruction_node import ReconstructionNodeConfig, catching_up  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

# objects that segment whole, named: the procedural source's categories grow, and a seed alone would draw others
SCENE = {"source": "procedural", "num_objects": 2, "split": "test", "seed": 5,
         "object_keys": ["procedural_chair_0097", "procedural_bottle_0001"]}  # fmt: skip
FIRST_OUTPUT_TIMEOUT_S = 45.0
# IoU at occupancy 0.4 with >= 3 views, the true mesh voxelised into the published grid. The floor is
# for the compact bottle; the thin-legged chair is measured and printed only: it scores 0.00-0.03 with
# the first trained model at 32^3 (and is sometimes tracked in two parts), against 0.50-0.53 for the bottle.
IOU_FLOOR = {"procedural_bottle_0001": 0.3}
MAX_TRIANGLES = 600  # below a reconstructed object's marching-cubes mesh, so markers are decimated
KEYFRAME_EVERY = 4  # objects/markers carries every object in every 4th array, changed ones in between


class Listener:
    """Everything the reconstruction node publishes, collected on an executor thread."""

    def __init__(self, node, executor) -> None:
        self.node, self.executor = node, executor
        self.lock = threading.Lock()
        self.markers: list[MarkerArray] = []
        self.scene = MarkerScene()  # every array applied in order, as rviz shows them
        self.poses: list[PoseArray] = []
        self.clouds: list[PointCloud2] = []
        self.diagnostics: list[DiagnosticArray] = []
        node.create_subscription(MarkerArray, "objects/markers", self._on_markers, latched_qos(depth=KEYFRAME_EVERY))
        node.create_subscription(PoseArray, "objects/poses", self._add(self.poses), reliable_qos())
        node.create_subscription(PointCloud2, "objects/error", self._add(self.clouds), reliable_qos(depth=2))
        node.create_subscription(DiagnosticArray, "diagnostics", self._add(self.diagnostics), reliable_qos())

    def _on_markers(self, msg: MarkerArray) -> None:
        with self.lock:
            self.scene.apply(msg)
            self.markers.append(msg)
            del self.markers[:-20]

    def _add(self, store: list):
        def callback(msg) -> None:
            with self.lock:
                store.append(msg)
                del store[:-20]  # keep the newest only

        return callback

    def wait(self, done, timeout_s: float) -> bool:
        return spin_until(self.executor, done, timeout_s=timeout_s)

    def call(self, client_type, service: str, request, timeout_s: float = 10.0):
        client = self.node.create_client(client_type, service)
        try:
            assert self.wait(client.service_is_ready, timeout_s), f"service {service} not available"
            future = client.call_async(request)
            assert self.wait(future.done, timeout_s), f"no answer from {service}"
            return future.result()
        finally:
            self.node.destroy_client(client)


@pytest.fixture(scope="module")
def scene():
    from vtr_perception.sim.scenes import make_tabletop_scene

    return make_tabletop_scene(SCENE["source"], num_objects=SCENE["num_objects"], split=SCENE["split"],
                               seed=SCENE["seed"], object_keys=SCENE["object_keys"])  # fmt: skip


@pytest.fixture(scope="module")
def model_params(tmp_path_factory):
    return trained_backend_params() or any_model_params(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="module")
def running(tmp_path_factory, model_params):
    logs = tmp_path_factory.mktemp("logs")
    camera = NodeProcess(
        "vtr_perception.ros.sim_camera_node",
        logs / "sim_camera.log",
        params_file=REPO / "config" / "sim_camera.yaml",
        params={**SCENE, "mode": "orbit", "rate_hz": 4.0, "orbit_speed_deg": 8.0, "distance": 0.4},
    )
    reconstruction = NodeProcess(
        "vtr_perception.ros.reconstruction_node",
        logs / "reconstruction.log",
        params_file=REPO / "config" / "reconstruction.yaml",
        params={
            **model_params,
            "diagnostics_period_s": 0.5,
            "marker_max_triangles": MAX_TRIANGLES,
            "marker_keyframe_every": KEYFRAME_EVERY,
        },
    )
    try:
        with isolated_node("reconstruction_test_listener") as (node, executor):
            yield Listener(node, executor), reconstruction, camera
    finally:
        codes = reconstruction.stop(), camera.stop()
    assert codes == (0, 0), f"nodes did not exit cleanly: {codes}\n{reconstruction.output()[-3000:]}"


def _latest_with_all_objects(listener: Listener, n: int):
    with listener.lock:
        meshes = [m for m in listener.scene.in_namespace("objects") if m.type == Marker.TRIANGLE_LIST]
        poses = listener.poses[-1] if listener.poses else None
    if poses is None:
        return None
    if len(meshes) < n or len(poses.poses) < n:
        return None
    return meshes, poses


def _fail(reason: str, listener: Listener, *procs: NodeProcess) -> None:
    with listener.lock:
        diagnostics = diagnostic_values(listener.diagnostics[-1]) if listener.diagnostics else "none received"
    logs = "\n".join(f"--- {p.log_path.name}\n{p.output()[-2500:]}" for p in procs)
    pytest.fail(f"{reason}\ndiagnostics: {diagnostics}\n{logs}")


def test_mesh_marker_and_pose_for_every_object(running, scene):
    listener, reconstruction, camera = running
    n = len(scene.objects)
    start = time.monotonic()
    if not listener.wait(lambda: _latest_with_all_objects(listener, n) is not None, FIRST_OUTPUT_TIMEOUT_S):
        _fail(f"no mesh + pose for all {n} objects within {FIRST_OUTPUT_TIMEOUT_S} s", listener, reconstruction, camera)
    print(f"first complete output after {time.monotonic() - start:.1f} s")
    meshes, poses = _latest_with_all_objects(listener, n)

    assert poses.header.frame_id == "world"
    positions = conv.pose_array_to_matrices(poses)[:, :3, 3]
    assert len(positions) == n == len(meshes)
    ids = sorted(m.id for m in meshes)
    assert len(set(ids)) == n
    for marker, position in zip(sorted(meshes, key=lambda m: m.id), positions, strict=True):
        # objects/poses is ordered by marker id; each one sits on a true object
        obj = min(scene.objects, key=lambda o: np.linalg.norm(o.center - position))
        assert np.linalg.norm(obj.center - position) < 0.35 * obj.size, (obj.key, obj.center, position)
        assert marker.header.frame_id == "world"
        triangles = conv.marker_triangles(marker)
        assert 0 < len(triangles) <= MAX_TRIANGLES and np.isfinite(triangles).all()
        # the mesh lies around its object (its grid spans about the object's size)
        assert np.linalg.norm(triangles.reshape(-1, 3).mean(axis=0) - obj.center) < 0.5 * obj.size
        assert np.abs(triangles.reshape(-1, 3) - obj.center).max() < 1.5 * obj.size
    matched = {min(range(n), key=lambda i: np.linalg.norm(scene.objects[i].center - p)) for p in positions}
    assert matched == set(range(n)), "two poses claim the same object"


def test_late_subscriber_sees_every_object_and_arrays_carry_changes(running, scene):
    listener, reconstruction, camera = running
    n = len(scene.objects)
    if not listener.wait(lambda: _latest_with_all_objects(listener, n) is not None, FIRST_OUTPUT_TIMEOUT_S):
        _fail(f"no mesh for all {n} objects within {FIRST_OUTPUT_TIMEOUT_S} s", listener, reconstruction, camera)
    with listener.lock:
        start = len(listener.markers)

    def objects_per_array() -> list[int]:  # each carried object has a label (a mesh too, unless it has none)
        with listener.lock:
            arrays = listener.markers[start:] if len(listener.markers) > start else []
        return [sum(m.ns == "labels" and m.action == Marker.ADD for m in a.markers) for a in arrays]

    # one reconstruction per frame: between keyframes an array carries the one changed object, not all of them
    if not listener.wait(lambda: len(objects_per_array()) >= KEYFRAME_EVERY, 30.0):
        _fail(f"fewer than {KEYFRAME_EVERY} marker arrays in 30 s", listener, reconstruction, camera)
    counts = objects_per_array()
    assert min(counts) <= 1 and max(counts) >= n, counts

    # a subscriber that joins now is sent the last KEYFRAME_EVERY arrays, which rebuild the whole scene
    late: list[MarkerArray] = []
    listener.node.create_subscription(MarkerArray, "objects/markers", late.append, latched_qos(depth=KEYFRAME_EVERY))
    assert listener.wait(lambda: len(late) >= KEYFRAME_EVERY, 10.0), f"late subscriber got {len(late)} arrays"
    rebuilt = MarkerScene()
    for array in late[:KEYFRAME_EVERY]:
        rebuilt.apply(array)
    labels = rebuilt.in_namespace("labels")
    assert len(labels) >= n, f"the stored arrays show {len(labels)} of {n} objects"
    assert len(rebuilt.in_namespace("objects")) >= n - 1  # an object's latest estimate may have no surface


def test_error_cloud_has_one_grid_per_object(running, scene):
    listener, reconstruction, camera = running
    # A first estimate from one partial view (a chair seen from its side) can sit 40% of the
    # object's size off its centre; the check below is for the multi-view reconstruction.
    if not listener.wait(lambda: _every_object_seen_from(listener, len(scene.objects), 2), 30.0):
        _fail("no objects/error cloud with every object seen from 2 views", listener, reconstruction, camera)
    with listener.lock:
        msg = listener.clouds[-1]
    assert msg.header.frame_id == "world"
    points = conv.pointcloud2_to_structured(msg)
    assert {"x", "y", "z", "occupancy", "error", "id", "views"} <= set(points.dtype.names)
    grids = grids_from_cloud(points)
    for grid in grids.values():
        assert np.isfinite(grid.occupancy).all() and np.isfinite(grid.error).all()
        assert 0.0 <= grid.occupancy.min() and grid.occupancy.max() <= 1.0
        obj = min(scene.objects, key=lambda o: np.linalg.norm(o.center - grid.center))
        # the grid holds its object's centre. It is centred on the points seen so far, which for the thin-legged
        # chair after 2 views sat up to 0.40 of its size off the true centre (0.056 m in a 0.186 m grid)
        assert np.all(np.abs(obj.center - grid.center) < 0.5 * grid.extent), (obj.key, obj.center, grid.center)
        assert obj.size * 0.8 < grid.extent < obj.size * 3.0


def _every_object_seen_from(listener: Listener, n: int, views: int) -> bool:
    """Whether the latest objects/error cloud has at least ``n`` objects, each reconstructed from ``views`` views."""
    with listener.lock:
        msg = listener.clouds[-1] if listener.clouds else None
    if msg is None:
        return False
    points = conv.pointcloud2_to_structured(msg)
    counts = [points["views"][points["id"] == i].min() for i in np.unique(points["id"])]
    return len(counts) >= n and min(counts) >= views


def _grids(listener: Listener) -> dict:
    with listener.lock:
        msg = listener.clouds[-1] if listener.clouds else None
    return {} if msg is None else grids_from_cloud(conv.pointcloud2_to_structured(msg))


def test_diagnostics_report_backend_and_counts(running, model_params):
    listener, reconstruction, camera = running

    seen: list[dict[str, str]] = []

    def processing_with_input() -> bool:
        # A loaded CI machine can stall the camera for seconds; the rate then honestly reads ~0,
        # so wait for a report taken while frames were flowing at the camera's rate.
        with listener.lock:
            msg = listener.diagnostics[-1] if listener.diagnostics else None
        if msg is None:
            return False
        values = diagnostic_values(msg)
        seen.append(values)
        published = "stage_ms.publish" in values
        return int(values["frames_processed"]) > 0 and float(values["input_rate_hz"]) > 1.0 and published

    if not listener.wait(processing_with_input, 30.0):
        _fail("no diagnostics with processed frames at > 1 Hz input and a publish", listener, reconstruction, camera)
    values = seen[-1]
    assert values["backend"] == model_params["backend"]
    assert values["errors"] == "0", reconstruction.output()[-3000:]
    assert float(values["input_rate_hz"]) < 4.0 * 1.5  # the camera publishes at 4 Hz
    for key in (
        "frames_dropped",
        "frames_skipped",
        "frames_catching_up",
        "latency_ms_p50",
        "latency_ms_p95",
        "objects",
    ):
        assert key in values
    rates = {k.removeprefix("input_hz."): float(v) for k, v in values.items() if k.startswith("input_hz.")}
    assert {"image", "camera_info", "depth", "camera_pose"} <= set(rates), rates
    assert rates["image"] == pytest.approx(float(values["input_rate_hz"]), abs=0.01)
    stages = {k: float(v) for k, v in values.items() if k.startswith("stage_ms.")}
    expected_stages = {"arrival", "queue", "pose_wait", "segmentation", "network", "total", "publish"}
    assert {f"stage_ms.{k}" for k in expected_stages} <= set(stages), stages
    assert all(v >= 0.0 for v in stages.values()), stages


def test_a_frame_that_arrived_during_a_reconstruction_leaves_the_next_one_to_a_later_frame():
    assert catching_up(arrived=10.05, previous_done=10.10, previous_reconstructed=True)
    assert not catching_up(arrived=10.05, previous_done=10.10, previous_reconstructed=False)  # a light frame
    assert not catching_up(arrived=10.12, previous_done=10.10, previous_reconstructed=True)  # the worker kept up
    assert not catching_up(arrived=10.05, previous_done=-np.inf, previous_reconstructed=False)  # the first frame


def test_running_node_holds_the_yaml_parameters(running, model_params):
    """Like `ros2 param get /reconstruction ...`: the parameter services of the running process."""
    listener = running[0]
    shipped = section_parameters(
        yaml.safe_load((REPO / "config" / "reconstruction.yaml").read_text()), "reconstruction"
    )
    expected = {k: v for k, v in shipped.items() if not isinstance(v, dict) and k not in model_params}
    expected.update({f"perception.{k}": v for k, v in shipped["perception"].items()})
    # command-line overrides win over the file
    expected.update(model_params, marker_max_triangles=MAX_TRIANGLES, marker_keyframe_every=KEYFRAME_EVERY)
    names = sorted(expected)
    answer = listener.call(GetParameters, "/reconstruction/get_parameters", GetParameters.Request(names=names))
    got = dict(zip(names, (parameter_value_to_python(v) for v in answer.values), strict=True))
    assert got == expected

    described = listener.call(
        DescribeParameters, "/reconstruction/describe_parameters", DescribeParameters.Request(names=["image_qos"])
    )
    assert "sensor_data" in described.descriptors[0].description


def test_trained_mesh_iou_above_floor(running, scene, model_params):
    if trained_backend_params() is None:
        pytest.skip("needs the trained model: models/reconstructor.onnx and .pt are missing")
    from vtr_perception.geometry.metrics import grid_metrics
    from vtr_perception.sim.truth import true_grid

    listener, reconstruction, camera = running
    min_views = 3

    if not listener.wait(lambda: _every_object_seen_from(listener, len(scene.objects), min_views), 60.0):
        _fail(f"objects did not reach {min_views} views within 60 s", listener, reconstruction, camera)
    grids = _grids(listener)
    ious = {}
    for obj in scene.objects:
        grid = min(grids.values(), key=lambda g: np.linalg.norm(g.center - obj.center))
        truth = true_grid(obj, grid)
        ious[obj.key] = float(grid_metrics(grid.occupancy, truth, threshold=0.4)["iou"])
    print(f"IoU at 0.4 with >= {min_views} views: {ious}")
    assert all(ious[key] > floor for key, floor in IOU_FLOOR.items()), (ious, IOU_FLOOR)


def _set_parameter(listener: Listener, name: str, value) -> None:
    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    (result,) = listener.call(SetParameters, "/reconstruction/set_parameters", request).results
    assert result.successful, result.reason


def test_save_meshes_writes_plys_in_both_frames_and_poses_with_the_published_ids(running, scene, tmp_path):
    import open3d as o3d

    listener, reconstruction, camera = running
    n = len(scene.objects)
    if not listener.wait(lambda: _latest_with_all_objects(listener, n) is not None, FIRST_OUTPUT_TIMEOUT_S):
        _fail(f"no mesh + pose for all {n} objects within {FIRST_OUTPUT_TIMEOUT_S} s", listener, reconstruction, camera)
    ids: list[Int32MultiArray] = []
    listener.node.create_subscription(Int32MultiArray, "objects/ids", ids.append, reliable_qos())
    target, blocker = tmp_path / "meshes", tmp_path / "a_file"
    _set_parameter(listener, "save_meshes_dir", str(target))  # changeable at run time
    try:
        response = listener.call(Trigger, "/reconstruction/save_meshes", Trigger.Request())
        assert response.success and str(target) in response.message, response.message
        saved = json.loads((target / "poses.json").read_text())
        assert saved["frame_id"] == "world" and len(saved["objects"]) >= n
        with_mesh = [r for r in saved["objects"] if r["mesh_object"] is not None]
        assert len(with_mesh) >= n - 1  # an object's latest estimate may have no surface
        for record in with_mesh:
            T = np.array(record["T_world_object"])
            local, world = (np.asarray(o3d.io.read_triangle_mesh(str(target / record[k])).vertices)
                            for k in ("mesh_object", "mesh_world"))  # fmt: skip
            assert len(local) == len(world) == record["vertices"] > 0
            np.testing.assert_allclose(local @ T[:3, :3].T + T[:3, 3], world, atol=1e-6)
            obj = min(scene.objects, key=lambda o: np.linalg.norm(o.center - T[:3, 3]))
            assert np.linalg.norm(obj.center - T[:3, 3]) < 0.35 * obj.size, (obj.key, obj.center, T[:3, 3])
        # objects/ids names the objects of objects/poses: the saved objects are the published ones
        saved_ids = [r["id"] for r in saved["objects"]]
        if not listener.wait(lambda: any(list(m.data) == saved_ids for m in ids), 15.0):
            _fail(f"no objects/ids {saved_ids} (got {[list(m.data) for m in ids[-3:]]})", listener, reconstruction)

        blocker.write_text("a file, so no directory can be made under it")
        _set_parameter(listener, "save_meshes_dir", str(blocker / "meshes"))
        response = listener.call(Trigger, "/reconstruction/save_meshes", Trigger.Request())
        assert not response.success and "cannot write" in response.message, response.message
        assert reconstruction.alive()
        # one line at start says which optional outputs are on, and what to install for the others
        (line,) = [x for x in reconstruction.output().splitlines() if "outputs: objects/ids on" in x]
        for package, topic in (("vision_msgs", "objects/detections"), ("moveit_msgs", "collision_object")):
            installed = importlib.util.find_spec(package) is not None
            assert (f"{topic} on" if installed else f"apt install ros-<distro>-{package.replace('_', '-')}") in line
    finally:
        _set_parameter(listener, "save_meshes_dir", ReconstructionNodeConfig.save_meshes_dir)


def test_reset_forgets_every_object_and_starts_over_with_new_ids(running, scene):
    """Last in this module: it throws away what the tests above look at."""
    listener, reconstruction, camera = running
    n = len(scene.objects)
    if not listener.wait(lambda: _every_object_seen_from(listener, n, 2), 60.0):
        _fail("no objects/error cloud with every object seen from 2 views", listener, reconstruction, camera)
    before = set(_grids(listener))
    clouds: list[PointCloud2] = []  # every cloud from here on, in order
    listener.node.create_subscription(PointCloud2, "objects/error", clouds.append, reliable_qos(depth=2))
    response = listener.call(Trigger, "/reconstruction/reset", Trigger.Request())
    assert response.success and f"forgot {len(before)}" in response.message, response.message

    def after_empty() -> list[PointCloud2] | None:
        """The clouds after the first empty one (the reset's), None before it came."""
        empty = next((k for k, c in enumerate(clouds) if c.width * c.height == 0), None)
        return None if empty is None else clouds[empty + 1 :]

    if not listener.wait(lambda: after_empty() is not None, 10.0):
        _fail("no empty objects/error cloud after reconstruction/reset", listener, reconstruction, camera)

    def shown() -> set[int]:
        with listener.lock:
            return {int(m.id) for ns in ("objects", "labels") for m in listener.scene.in_namespace(ns)}

    if not listener.wait(lambda: not shown() & before, 5.0):
        _fail(f"markers of forgotten objects {sorted(shown() & before)} are still shown", listener, reconstruction)
    if not listener.wait(lambda: any(c.width * c.height for c in after_empty()), FIRST_OUTPUT_TIMEOUT_S):
        _fail("no object reconstructed again after reconstruction/reset", listener, reconstruction, camera)
    points = conv.pointcloud2_to_structured(next(c for c in after_empty() if c.width * c.height))
    new_ids = set(np.unique(points["id"]).astype(int).tolist())
    assert min(new_ids) > max(before), (before, new_ids)  # ids are never reused
    # from frames after the reset only: the camera orbits 2 deg a frame, and views are kept 15 deg apart
    assert points["views"].max() <= 2, np.unique(points["views"])
