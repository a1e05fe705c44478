"""sim_camera_node over real DDS: frames consistent with camera_info and pose, pixels as rendered, follows goals.

The node runs in its own process; this process rebuilds the same SimCamera (same config) and
renders at the poses the node reports: the published colour must match exactly, since the
renderer is deterministic, and the depth is the rendered depth with the configured sensor's noise
(the default, realsense_d435), drawn afresh in every frame. A next_best_view goal moves the camera there.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from tests.ros.helpers import isolated_node, spin_until  # noqa: E402
from tests.ros.node_processes import NodeProcess  # noqa: E402
from vtr_perception.geometry import cameras  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.qos import image_qos, reliable_qos  # noqa: E402
from vtr_perception.sim.camera import SimCamera, SimCameraConfig  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CONFIG = {"source": "procedural", "num_objects": 2, "seed": 1, "width": 160, "height": 120, "rate_hz": 5.0,
          "mode": "follow"}  # fmt: skip
TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def camera_node(tmp_path_factory):
    proc = NodeProcess("vtr_perception.ros.sim_camera_node", tmp_path_factory.mktemp("sim") / "sim.log", params=CONFIG)
    frames: dict[float, dict] = {}
    lock = threading.Lock()

    def keep(part: str):
        def callback(msg) -> None:
            with lock:
                frames.setdefault(conv.stamp_to_seconds(msg.header.stamp), {})[part] = msg

        return callback

    try:
        with isolated_node("sim_camera_test") as (node, executor):
            node.create_subscription(Image, "image", keep("image"), image_qos())
            node.create_subscription(Image, "depth", keep("depth"), image_qos())
            node.create_subscription(CameraInfo, "camera_info", keep("camera_info"), image_qos())
            node.create_subscription(PoseStamped, "camera_pose", keep("camera_pose"), reliable_qos())
            goal = node.create_publisher(PoseStamped, "next_best_view", reliable_qos())

            def complete_frames(after: float = 0.0) -> list[dict]:
                with lock:
                    return [f for s, f in sorted(frames.items()) if s > after and len(f) == 4]

            yield proc, executor, goal, complete_frames
    finally:
        code = proc.stop()
    assert code == 0, proc.output()


def test_frames_are_consistent_and_match_the_renderer(camera_node):
    proc, executor, _, complete_frames = camera_node
    assert spin_until(executor, lambda: len(complete_frames()) >= 2, timeout_s=TIMEOUT_S), proc.output()
    frame = complete_frames()[-1]
    image, depth, info, pose = (frame[k] for k in ("image", "depth", "camera_info", "camera_pose"))
    assert (image.width, image.height) == (info.width, info.height) == (depth.width, depth.height) == (160, 120)
    assert image.encoding == "rgb8" and depth.encoding == "32FC1"
    assert image.header.frame_id == info.header.frame_id == "sim_camera_optical"
    assert pose.header.frame_id == "world"

    sim = SimCamera(SimCameraConfig(**CONFIG))
    T = conv.pose_to_matrix(pose)
    start = cameras.camera_from_angles(200.0, 30.0, 0.6, target=sim.scene.objects[0].center)
    np.testing.assert_allclose(T, start, atol=1e-9)
    intrinsics = conv.camera_info_to_intrinsics(info)
    np.testing.assert_allclose([intrinsics.fx, intrinsics.cx, intrinsics.cy], [sim.intrinsics.fx, 80.0, 60.0])

    rendered = sim.renderer.render(sim.intrinsics, T)
    np.testing.assert_array_equal(conv.image_to_rgb(image), rendered.rgb)
    assert sim.config.depth_noise == "realsense_d435"  # the default: no result rests on perfect depth
    received_depth = conv.image_to_depth(depth)
    objects = rendered.mask >= 2
    measured = objects & np.isfinite(received_depth)
    assert objects.any() and measured.sum() > 0.8 * objects.sum()  # a few edge pixels dropped, most measured
    error = np.abs(received_depth[measured] - rendered.depth[measured])
    assert 0.0 < np.median(error) < 0.005 and error.max() > 0.001  # noisy, a few mm at 0.6 m
    earlier = [f for f in complete_frames() if np.allclose(conv.pose_to_matrix(f["camera_pose"]), T, atol=1e-9)]
    assert len(earlier) >= 2
    first, second = (conv.image_to_depth(f["depth"]) for f in earlier[:2])
    both = np.isfinite(first) & np.isfinite(second) & objects
    assert np.any(first[both] != second[both])  # the noise is drawn again for every frame


def test_follows_next_best_view(camera_node):
    proc, executor, goal, complete_frames = camera_node
    assert spin_until(executor, lambda: bool(complete_frames()), timeout_s=TIMEOUT_S), proc.output()
    sim = SimCamera(SimCameraConfig(**CONFIG))
    target = cameras.camera_from_angles(60.0, 45.0, 0.5, target=sim.scene.objects[1].center)
    goal.publish(conv.matrix_to_pose_stamped(target, frame_id="world"))

    def moved() -> bool:
        frames = complete_frames()
        return bool(frames) and np.allclose(conv.pose_to_matrix(frames[-1]["camera_pose"]), target, atol=1e-9)

    assert spin_until(executor, moved, timeout_s=TIMEOUT_S), f"camera did not move to the goal:\n{proc.output()}"
    image = complete_frames()[-1]["image"]
    np.testing.assert_array_equal(conv.image_to_rgb(image), sim.renderer.render(sim.intrinsics, target).rgb)
