"""rosbag2 record and read without ROS tooling (the demo's --record and --bag)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from tests.ros.helpers import isolated_node, spin_until  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.bag import BagRecorder, read_bag  # noqa: E402

pytestmark = pytest.mark.ros


def test_recorded_camera_messages_read_back_identical(tmp_path):
    path = tmp_path / "run"
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    with isolated_node("bag_test") as (node, executor):
        recorder = BagRecorder(node, path)
        pub_image = node.create_publisher(Image, "image", 10)
        pub_pose = node.create_publisher(PoseStamped, "camera_pose", 10)
        T = np.eye(4)
        T[:3, 3] = [0.1, 0.2, 0.3]
        for k in range(3):
            spin_until(executor, lambda: False, timeout_s=0.2)  # let the recorder's subscriptions match
            pub_image.publish(conv.numpy_to_image(rgb, "rgb8", stamp=float(k + 1), frame_id="cam"))
            pub_pose.publish(conv.matrix_to_pose_stamped(T, stamp=float(k + 1), frame_id="world"))
        assert spin_until(executor, lambda: recorder.count >= 6, timeout_s=10.0), recorder.count
        recorder.close()
    messages = list(read_bag(path))
    images = [m for name, _, m in messages if name == "image"]
    poses = [m for name, _, m in messages if name == "camera_pose"]
    assert len(images) == 3 and len(poses) == 3
    np.testing.assert_array_equal(conv.image_to_rgb(images[0]), rgb)
    np.testing.assert_allclose(conv.pose_to_matrix(poses[-1]), T, atol=1e-12)
    with pytest.raises(ValueError, match="already exists"):
        with isolated_node("bag_test2") as (node, _):
            BagRecorder(node, path)


def test_reading_a_missing_bag_or_one_without_images_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(read_bag(tmp_path / "nope"))
