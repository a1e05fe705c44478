"""reconstruction_node under bad input over real DDS: it logs once per kind, publishes nothing wrong, keeps serving.

The node runs in its own process (a tiny random model, or the trained one where torch is not
installed; the model does not matter here). This process plays a camera: frames rendered from a
simulated table-top scene, published as image / depth / camera_info / camera_pose, first broken
in each way a driver or a bag can break them, then valid, then in a burst. Checked: nothing is
published for bad frames, each kind of problem is logged once (throttled) and counted in
diagnostics, and valid frames afterwards still produce meshes and poses.
A broken model file (truncated, or the wrong inputs) stops the node at start with one line.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseArray, PoseStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from tests.ros.helpers import REPO, isolated_node, spin_until  # noqa: E402
from tests.ros.node_processes import (  # noqa: E402
    TRAINED_ONNX,
    NodeProcess,
    any_model_params,
    diagnostic_values,
)
from vtr_perception.geometry.cameras import camera_from_angles  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.qos import latched_qos, reliable_qos  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAME_GAP_S = 0.4
TIMEOUT_S = 30.0


class Camera:
    """Renders the simulated scene and publishes its frames over DDS."""

    def __init__(self, node, executor) -> None:
        from vtr_perception.sim.camera import SimCamera, SimCameraConfig

        config = SimCameraConfig(source="procedural", num_objects=1, object_keys=["procedural_bottle_0001"])
        self.sim = SimCamera(config)
        self.node, self.executor = node, executor
        qos = reliable_qos(depth=30)
        self.pub = {
            "image": node.create_publisher(Image, "image", qos),
            "depth": node.create_publisher(Image, "depth", qos),
            "camera_info": node.create_publisher(CameraInfo, "camera_info", qos),
            "camera_pose": node.create_publisher(PoseStamped, "camera_pose", reliable_qos(depth=50)),
        }
        self.lock = threading.Lock()
        self.outputs: list = []  # markers, poses and clouds, in arrival order
        self.diagnostics: list[DiagnosticArray] = []
        for msg_type, topic, qos in ((MarkerArray, "objects/markers", latched_qos()),
                                     (PoseArray, "objects/poses", reliable_qos()),
                                     (PointCloud2, "objects/error", reliable_qos(depth=2))):  # fmt: skip
            node.create_subscription(msg_type, topic, self._store(self.outputs), qos)
        node.create_subscription(DiagnosticArray, "diagnostics", self._store(self.diagnostics), reliable_qos())

    def _store(self, store: list):
        def callback(msg) -> None:
            with self.lock:
                store.append(msg)

        return callback

    def render(self, azimuth_deg: float):
        target = self.sim.scene.objects[0].center
        T = camera_from_angles(azimuth_deg, 30.0, 0.5, target=target)
        self.sim.move_to(T)
        frame = self.sim.render()
        depth = np.where(np.isfinite(frame.depth), frame.depth, np.nan).astype(np.float32)
        return frame.rgb, depth, T

    def send(self, stamp: float, rgb, depth, T, *, info=True, pose=True, encoding="rgb8", intrinsics=None) -> None:
        frame_id = "sim_camera_optical"
        if pose:
            pose_msg = conv.matrix_to_pose_stamped(T, stamp=stamp, frame_id="world") if pose is True else pose
            self.pub["camera_pose"].publish(pose_msg)
        if info:
            info_msg = conv.intrinsics_to_camera_info(intrinsics or self.sim.intrinsics, stamp=stamp, frame_id=frame_id)
            self.pub["camera_info"].publish(info_msg)
        self.pub["depth"].publish(conv.numpy_to_image(depth, "32FC1", stamp=stamp, frame_id=frame_id))
        if encoding == "rgb8":
            image = conv.numpy_to_image(rgb, "rgb8", stamp=stamp, frame_id=frame_id)
        else:  # the right size, the wrong kind of pixels
            image = conv.numpy_to_image(rgb[..., 0].astype(np.uint16) * 200, encoding, stamp=stamp, frame_id=frame_id)
        self.pub["image"].publish(image)

    def spin(self, seconds: float) -> None:
        spin_until(self.executor, lambda: False, timeout_s=seconds)

    def wait(self, done, timeout_s: float = TIMEOUT_S) -> bool:
        return spin_until(self.executor, done, timeout_s=timeout_s)

    def latest_diagnostics(self) -> dict[str, str]:
        with self.lock:
            return diagnostic_values(self.diagnostics[-1]) if self.diagnostics else {}


@pytest.fixture(scope="module")
def node_and_camera(tmp_path_factory):
    model = any_model_params(tmp_path_factory.mktemp("tiny_model"))
    log = tmp_path_factory.mktemp("bad_input_logs") / "reconstruction.log"
    proc = NodeProcess(
        "vtr_perception.ros.reconstruction_node",
        log,
        params_file=REPO / "config" / "reconstruction.yaml",
        params={
            **model,
            "image_qos": "reliable",
            "log_throttle_s": 60.0,
            "pose_wait_s": 0.3,
            "diagnostics_period_s": 0.25,
        },  # fmt: skip
    )
    try:
        with isolated_node("bad_input_camera") as (node, executor):
            camera = Camera(node, executor)
            subscribed = camera.wait(lambda: all(p.get_subscription_count() > 0 for p in camera.pub.values()))
            assert subscribed, f"reconstruction_node did not subscribe within {TIMEOUT_S} s:\n{proc.output()}"
            yield proc, camera
    finally:
        code = proc.stop()
    assert code == 0, proc.output()


def _broken_model(model_dir, case: str):
    """A model dir whose reconstructor.onnx is the trained one truncated, or with its images input renamed."""
    import onnx

    model_dir.mkdir()
    bad = model_dir / TRAINED_ONNX.name
    if case == "truncated":
        bad.write_bytes(TRAINED_ONNX.read_bytes()[:1000])
        return bad, "not a readable ONNX model"
    model = onnx.load(str(TRAINED_ONNX))
    model.graph.input[0].name = "pixels"
    for node in model.graph.node:
        node.input[:] = ["pixels" if name == "images" else name for name in node.input]
    onnx.save(model, str(bad))
    return bad, "model inputs are ['pixels', 'rotations'], expected ['images', 'rotations']"


@pytest.mark.parametrize("case", ["truncated", "input renamed"])
def test_a_broken_model_file_stops_the_node_at_start_with_one_line_naming_it(tmp_path, case):
    if not TRAINED_ONNX.is_file():
        pytest.skip(f"needs {TRAINED_ONNX.relative_to(REPO)}")
    bad, problem = _broken_model(tmp_path / "model", case)
    proc = NodeProcess("vtr_perception.ros.reconstruction_node", tmp_path / "reconstruction.log",
                       params={"model_dir": str(bad.parent)})  # fmt: skip
    try:
        code = proc.proc.wait(timeout=60)
    finally:
        proc.stop()
    log = proc.output()
    assert code != 0, log
    errors = [line for line in log.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("reconstruction_node: error: "), log
    assert f"{bad}: {problem}" in errors[0], log
    assert "Traceback" not in log, log


def _count(camera: Camera, key: str) -> int:
    return int(camera.latest_diagnostics().get(key, 0))


def test_bad_frames_are_skipped_logged_once_and_counted_then_valid_frames_work(node_and_camera):
    proc, camera = node_and_camera
    rgb, depth, T = camera.render(200.0)
    stamps = iter(np.arange(1.0, 1000.0))
    bad_pose = conv.matrix_to_pose_stamped(T, frame_id="world")
    bad_pose.pose.orientation.w = float("nan")
    assert camera.wait(lambda: bool(camera.latest_diagnostics())), "no diagnostics"

    # No camera_info for these stamps: the frames never complete, nothing is processed or published.
    before = {k: v for k, v in camera.latest_diagnostics().items() if k.startswith(("frames_", "skipped."))}
    for _ in range(2):
        camera.send(next(stamps), rgb, depth, T, info=False)
    camera.spin(1.5)
    after = {k: v for k, v in camera.latest_diagnostics().items() if k.startswith(("frames_", "skipped."))}
    assert after == before

    cases = [  # (what, send options, the diagnostics counter it must raise)
        ("no camera_pose yet", {"pose": False}, "skipped.no_camera_pose"),
        ("wrong encoding", {"encoding": "16UC1"}, "skipped.bad_input"),
        ("image size not matching camera_info", {"intrinsics": camera.sim.intrinsics.scaled(640, 480)},
         "skipped.size_mismatch"),
        ("NaN depth", {"depth": np.full_like(depth, np.nan)}, "skipped.no_valid_depth"),
        ("NaN camera_pose", {"pose": bad_pose}, "skipped.bad_camera_pose"),
    ]  # fmt: skip
    for what, options, counter in cases:
        for _ in range(2):  # each kind twice: counted twice, logged once
            before = _count(camera, counter)
            for _attempt in range(3):  # a frame replaced in the one-frame slot is dropped, not skipped: resend
                stamp = next(stamps)
                if isinstance(options.get("pose"), PoseStamped):
                    options["pose"].header.stamp = conv.seconds_to_stamp(stamp)
                kwargs = {"depth": depth, **options}
                camera.send(stamp, rgb, kwargs.pop("depth"), T, **kwargs)
                if camera.wait(lambda c=counter, b=before: _count(camera, c) > b, 6.0):
                    break
            else:
                pytest.fail(f"'{what}' never counted as {counter}: {camera.latest_diagnostics()}\n{proc.output()}")
        with camera.lock:
            assert not camera.outputs, f"published output after '{what}'"
        assert proc.alive(), f"node died after '{what}':\n{proc.output()}"

    d = camera.latest_diagnostics()
    assert d["errors"] == "0", proc.output()
    log = proc.output()
    for reason in ("no_camera_pose", "bad_input", "size_mismatch", "no_valid_depth"):
        assert log.count(f"frame skipped ({reason})") == 1, f"{reason} not logged exactly once:\n{log}"
    assert "16UC1" in log and "640x480" in log  # the messages say what was wrong

    # valid frames, streamed like a camera: the node still serves
    def one_pose() -> bool:
        poses = _latest(camera, PoseArray)
        return poses is not None and len(poses.poses) == 1

    served = _stream_until(camera, one_pose, stamps, rgb, depth, T)
    assert served, f"no output from valid frames after the bad ones:\n{camera.latest_diagnostics()}\n{proc.output()}"
    markers = _latest(camera, MarkerArray)
    assert any(m.type == Marker.TRIANGLE_LIST for m in markers.markers)


def test_burst_is_coalesced_and_the_node_keeps_serving(node_and_camera):
    proc, camera = node_and_camera
    rgb, depth, T = camera.render(200.0)
    dropped_before = int(camera.latest_diagnostics().get("frames_dropped", 0))
    start = 2000.0
    for i in range(25):  # all at once: far faster than the node processes frames
        camera.send(start + 0.01 * i, rgb, depth, T)
    camera.spin(1.0)

    # a new viewpoint afterwards adds a view to the object, and the node publishes it
    rgb2, depth2, T2 = camera.render(230.0)  # 30 deg on: a new view, not a pose jump

    def two_views() -> bool:
        markers = _latest(camera, MarkerArray)
        return markers is not None and any(m.type == Marker.TEXT_VIEW_FACING and "2 views" in m.text
                                           for m in markers.markers)  # fmt: skip

    if not _stream_until(camera, two_views, iter(np.arange(start + 10.0, start + 1000.0)), rgb2, depth2, T2):
        markers = _latest(camera, MarkerArray)
        labels = [m.text for m in markers.markers if m.type == Marker.TEXT_VIEW_FACING] if markers else None
        pytest.fail(f"no update with the new view after the burst; labels {labels}, "
                    f"diagnostics {camera.latest_diagnostics()}\n{proc.output()}")  # fmt: skip
    assert camera.wait(lambda: int(camera.latest_diagnostics()["frames_dropped"]) > dropped_before, 5.0)
    d = camera.latest_diagnostics()
    assert d["errors"] == "0" and proc.alive()
    print(f"burst of 25: dropped {int(d['frames_dropped']) - dropped_before}, diagnostics {d}")


def _stream_until(camera: Camera, done, stamps, rgb, depth, T, timeout_s: float = TIMEOUT_S) -> bool:
    """Send valid frames every FRAME_GAP_S (new stamps) until ``done()``, as a camera would."""
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        camera.send(next(stamps), rgb, depth, T)
        camera.wait(done, FRAME_GAP_S)
    return done()


def _latest(camera: Camera, msg_type):
    with camera.lock:
        return next((m for m in reversed(camera.outputs) if isinstance(m, msg_type)), None)
