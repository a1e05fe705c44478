"""A real DDS round trip: a publisher in another process, a subscriber here (FastDDS, localhost).

The child (tests/ros/dds_publisher.py) publishes padded rgb8 and big-endian 16UC1 images with
a reliable QoS and one latched MarkerArray; this process subscribes with the nodes' default
image QoS (sensor_data, best effort), checks the pixels through the conversions, checks that
a late transient-local subscriber still gets the marker, and acks so the child exits cleanly.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from tests.ros import dds_publisher  # noqa: E402
from tests.ros.helpers import PYTHON, child_env, isolated_node, spin_until  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.qos import image_qos, latched_qos, reliable_qos  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
TIMEOUT_S = 30.0


@pytest.fixture
def publisher_process():
    script = dds_publisher.__file__
    proc = subprocess.Popen(
        [PYTHON, script, str(TIMEOUT_S)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_image_round_trip_over_dds(publisher_process):
    received: dict[str, Image] = {}
    markers: list[MarkerArray] = []
    with isolated_node("dds_test_subscriber") as (node, executor):
        node.create_subscription(Image, "image", lambda m: received.setdefault("image", m), image_qos())
        node.create_subscription(Image, "depth", lambda m: received.setdefault("depth", m), image_qos())
        ack = node.create_publisher(String, "ack", reliable_qos())

        got_images = spin_until(executor, lambda: len(received) == 2, timeout_s=TIMEOUT_S)
        if not got_images:
            publisher_process.terminate()
            output = publisher_process.communicate(timeout=5)[0]
            pytest.fail(f"no images over DDS within {TIMEOUT_S} s; got {sorted(received)}; publisher said:\n{output}")

        # subscribed only now, long after the single publish: transient local must still deliver it
        node.create_subscription(MarkerArray, "objects/markers", markers.append, latched_qos())
        assert spin_until(executor, lambda: bool(markers), timeout_s=10.0), "latched MarkerArray not delivered"

        node.create_timer(0.1, lambda: ack.publish(String(data="got it")))
        assert spin_until(executor, lambda: publisher_process.poll() is not None, timeout_s=10.0)
    output = publisher_process.communicate(timeout=5)[0]
    assert publisher_process.returncode == 0, output

    image, depth = received["image"], received["depth"]
    assert image.step == dds_publisher.WIDTH * 3 + dds_publisher.PADDING
    assert (image.header.stamp.sec, image.header.stamp.nanosec) == dds_publisher.STAMP
    assert image.header.frame_id == "camera_optical"
    np.testing.assert_array_equal(conv.image_to_rgb(image), dds_publisher.expected_rgb())

    assert depth.is_bigendian and depth.step == dds_publisher.WIDTH * 2 + dds_publisher.PADDING
    np.testing.assert_allclose(conv.image_to_depth(depth), dds_publisher.expected_depth_mm() / 1000.0, rtol=1e-6)

    (marker,) = markers[0].markers
    vertices, triangles = dds_publisher.tetrahedron()
    assert marker.id == 7 and marker.header.frame_id == "world"
    np.testing.assert_allclose(conv.marker_triangles(marker), vertices[triangles])
