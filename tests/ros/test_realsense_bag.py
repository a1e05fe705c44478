"""A bag with a RealSense driver's topic names plays into the nodes through remappings (ros2_ws/README.md).

The bag is written with rosbags from the simulated table top: bgr8 colour and 16UC1 depth in mm as
realsense2_camera publishes them (best effort), camera_info, and the camera pose only as TF
(odom -> camera_link on /tf, camera_link -> camera_color_optical_frame latched on /tf_static), played with
`--world-frame odom`.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

from rclpy.qos import DurabilityPolicy, ReliabilityPolicy  # noqa: E402

from tests.ros.helpers import PYTHON, REPO, child_env, isolated_node  # noqa: E402
from vtr_perception.geometry.cameras import quaternion_from_matrix  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.bag import BagPlayer, TFMessage, check_bag  # noqa: E402

pytestmark = pytest.mark.ros

COLOR = "/camera/camera/color/image_raw"
DEPTH = "/camera/camera/aligned_depth_to_color/image_raw"
INFO = "/camera/camera/color/camera_info"
REMAPS = {"image": COLOR, "depth": DEPTH, "camera_info": INFO}
OPTICAL = "camera_color_optical_frame"
# camera_link (x forward, y left, z up) -> the colour optical frame (z forward, x right, y down), as the driver's URDF
T_LINK_OPTICAL = np.array([[0, 0, 1, 0.0], [-1, 0, 0, 0.015], [0, -1, 0, 0.0], [0, 0, 0, 1]], dtype=np.float64)
START_S = 1_733_300_000.0  # header stamps of a real recording's era
PERIOD_S = 0.5


def _qos(*, best_effort: bool = False, latched: bool = False, depth: int = 5):
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    inf = QosTime(2147483647, 4294967295)
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.BEST_EFFORT if best_effort else QosReliability.RELIABLE,
               QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE, inf, inf,
               QosLiveliness.AUTOMATIC, inf, False)  # fmt: skip


def _tf_message(store, transforms: list[tuple[np.ndarray, str, str]], stamp_s: float) -> bytes:
    """A tf2_msgs/TFMessage built with rosbags' types (the pip ROS wheels have no tf2_msgs), serialised."""
    T = store.types
    sec, nsec = int(stamp_s), round((stamp_s - int(stamp_s)) * 1e9)
    items = []
    for M, parent, child in transforms:
        x, y, z, w = (float(v) for v in quaternion_from_matrix(M[:3, :3]))
        stamp = T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec)
        transform = T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](x=float(M[0, 3]), y=float(M[1, 3]), z=float(M[2, 3])),
            rotation=T["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w),
        )
        header = T["std_msgs/msg/Header"](stamp=stamp, frame_id=parent)
        items.append(T["geometry_msgs/msg/TransformStamped"](header=header, child_frame_id=child, transform=transform))
    return store.serialize_cdr(T["tf2_msgs/msg/TFMessage"](transforms=items), "tf2_msgs/msg/TFMessage")


def _camera_poses(scene, frames: int) -> list[np.ndarray]:
    from vtr_perception.geometry.cameras import camera_from_angles

    target = np.mean([o.center for o in scene.objects], axis=0)
    return [camera_from_angles(250.0 + 12.0 * k, 35.0, 0.75, target=target) for k in range(frames)]


def write_realsense_bag(path, *, frames: int = 5, seed: int = 7):
    """A RealSense-named bag of ``frames`` views of a simulated table top; returns (scene, optical poses, stamps)."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    from vtr_perception.sim.camera import SimCamera, SimCameraConfig

    camera = SimCamera(SimCameraConfig(source="procedural", num_objects=2, seed=seed, width=320, height=240))
    store = get_typestore(Stores.ROS2_HUMBLE)
    writer = Writer(path, version=9)
    writer.open()
    add = writer.add_connection
    conns = {
        COLOR: add(COLOR, "sensor_msgs/msg/Image", typestore=store, offered_qos_profiles=[_qos(best_effort=True)]),
        DEPTH: add(DEPTH, "sensor_msgs/msg/Image", typestore=store, offered_qos_profiles=[_qos(best_effort=True)]),
        INFO: add(INFO, "sensor_msgs/msg/CameraInfo", typestore=store, offered_qos_profiles=[_qos(best_effort=True)]),
        "/tf": add("/tf", "tf2_msgs/msg/TFMessage", typestore=store, offered_qos_profiles=[_qos(depth=100)]),
        "/tf_static": add("/tf_static", "tf2_msgs/msg/TFMessage", typestore=store,
                          offered_qos_profiles=[_qos(latched=True, depth=1)]),
    }  # fmt: skip
    poses, stamps = _camera_poses(camera.scene, frames), []
    ns = lambda s: round(s * 1e9)  # noqa: E731
    static = _tf_message(store, [(T_LINK_OPTICAL, "camera_link", OPTICAL)], START_S)
    writer.write(conns["/tf_static"], ns(START_S), static)
    for k, T_world_optical in enumerate(poses):
        stamp = START_S + 0.1 + k * PERIOD_S
        stamps.append(stamp)
        camera.move_to(T_world_optical)
        frame = camera.render()
        T_world_link = T_world_optical @ np.linalg.inv(T_LINK_OPTICAL)
        writer.write(conns["/tf"], ns(stamp), _tf_message(store, [(T_world_link, "odom", "camera_link")], stamp))
        valid = np.isfinite(frame.depth) & (frame.depth > 0)
        depth_mm = np.where(valid, np.round(np.nan_to_num(frame.depth) * 1000.0), 0).astype(np.uint16)
        bgr = np.ascontiguousarray(frame.rgb[..., ::-1])
        messages = {
            INFO: conv.intrinsics_to_camera_info(camera.intrinsics, stamp=stamp, frame_id=OPTICAL),
            DEPTH: conv.numpy_to_image(depth_mm, "16UC1", stamp=stamp, frame_id=OPTICAL),
            COLOR: conv.numpy_to_image(bgr, "bgr8", stamp=stamp, frame_id=OPTICAL),
        }
        for topic, msg in messages.items():
            writer.write(conns[topic], ns(stamp) + 1000, serialize_message(msg))
    writer.close()
    return camera.scene, poses, stamps


@pytest.fixture(scope="module")
def realsense_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("realsense") / "bag"
    return (path, *write_realsense_bag(path))


def test_the_realsense_bag_needs_its_remappings_and_then_checks(realsense_bag):
    path = realsense_bag[0]
    with pytest.raises(ValueError, match=r"has no image topic /image \(remap image:=TOPIC\)"):
        check_bag(path)
    tf_messages = 0 if TFMessage is None else 1 + 5  # TF is replayed where tf2_msgs is installed (not the pip wheels)
    assert check_bag(path, image_topic=COLOR) == 3 * 5 + tf_messages


def test_player_gives_the_camera_pose_from_the_bags_tf_and_offers_reliable_with_recorded_durability(realsense_bag):
    path, _, poses, stamps = realsense_bag
    with isolated_node("realsense_player") as (node, _):
        player = BagPlayer(node, path, remaps=REMAPS, world_frame="odom")
        assert player.pose_publisher is not None and player.pose_publisher.topic_name == "/camera_pose"
        for T_world_optical, stamp in zip(poses, stamps, strict=True):
            T = player.transforms.lookup("odom", OPTICAL, stamp)
            np.testing.assert_allclose(T, T_world_optical, atol=1e-6)
        assert player.transforms.lookup("odom", OPTICAL, stamps[-1] + 5.0) is None  # past the recorded TF
        assert player.transforms.lookup("world", OPTICAL, stamps[0]) is None  # no such frame in this bag
        qos = {topic: pub.qos_profile for topic, pub in player.publishers.items()}
        assert set(qos) - {"/tf", "/tf_static"} == {COLOR, DEPTH, INFO}
        assert all(q.reliability == ReliabilityPolicy.RELIABLE for q in qos.values())  # recorded best effort
        assert all(qos[t].durability == DurabilityPolicy.VOLATILE for t in (COLOR, DEPTH, INFO, "/tf") if t in qos)
        if "/tf_static" in qos:  # latched again
            assert qos["/tf_static"].durability == DurabilityPolicy.TRANSIENT_LOCAL


def test_demo_builds_the_objects_of_a_realsense_bag_played_through_remappings(realsense_bag, tmp_path):
    """`demo --bag` with the documented remappings: the nodes reconstruct the table's objects where they are."""
    path, scene, _, _ = realsense_bag
    out = tmp_path / "out"
    remaps = [arg for src, dst in REMAPS.items() for arg in ("--remap", f"{src}:={dst}")]
    cmd = [PYTHON, "-m", "vtr_perception.cli", "demo", "--bag", str(path), "--out", str(out), *remaps, "--world-frame",
           "odom"]  # fmt: skip
    done = subprocess.run(cmd, env=child_env(), cwd=REPO, capture_output=True, text=True, timeout=240)
    logs = "".join(f.read_text() for f in sorted((out / "logs").glob("*.log"))) if (out / "logs").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + logs[-3000:]
    written = json.loads((out / "poses.json").read_text())
    assert written["frame"] == "odom"
    poses = written["objects"]
    assert all(o["estimated_position"] is not None for o in poses), poses
    found = np.array([o["estimated_position"] for o in poses], dtype=np.float64).reshape(-1, 3)
    centres = np.array([o.center for o in scene.objects])
    # placed by the poses from the bag's TF: each object of the table found where it stands, nothing elsewhere
    distances = np.linalg.norm(centres[:, None] - found[None], axis=2)
    assert len(found) and distances.min(axis=1).max() < 0.03, (found.tolist(), centres.tolist(), done.stdout)
    assert distances.min(axis=0).max() < 0.05, (found.tolist(), centres.tolist())
