"""Child process for test_dds_roundtrip: publishes over DDS until it hears an ack.

- once at start-up, latched (transient local): a MarkerArray with one mesh marker;
- at 20 Hz (reliable): an rgb8 image and a big-endian 16UC1 depth image, both with row
  padding in ``step``, built byte by byte here (not with the code under test);
- exits 0 when a std_msgs/String arrives on ``ack``, 3 if none comes within the timeout.
"""

from __future__ import annotations

import struct
import sys
import time

import numpy as np
import rclpy
from sensor_msgs.msg import Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from vtr_perception.ros.conversions import mesh_marker
from vtr_perception.ros.qos import latched_qos, reliable_qos

HEIGHT, WIDTH, PADDING = 6, 5, 4
STAMP = (1234, 567_000_000)


def expected_rgb() -> np.ndarray:
    return (np.arange(HEIGHT * WIDTH * 3).reshape(HEIGHT, WIDTH, 3) * 7 % 256).astype(np.uint8)


def expected_depth_mm() -> np.ndarray:
    return (1000 + np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH) * 37).astype(np.uint16)


def tetrahedron() -> tuple[np.ndarray, np.ndarray]:
    vertices = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]])
    return vertices, np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])


def _image(encoding: str, rows: list[bytes], *, big_endian: bool) -> Image:
    msg = Image(height=HEIGHT, width=WIDTH, encoding=encoding, is_bigendian=int(big_endian), step=len(rows[0]))
    msg.header.stamp.sec, msg.header.stamp.nanosec = STAMP
    msg.header.frame_id = "camera_optical"
    msg.data = b"".join(rows)
    return msg


def rgb_message() -> Image:
    rgb = expected_rgb()
    rows = [bytes(rgb[r].reshape(-1).tolist()) + b"\xee" * PADDING for r in range(HEIGHT)]
    return _image("rgb8", rows, big_endian=False)


def depth_message() -> Image:
    depth = expected_depth_mm()
    rows = [b"".join(struct.pack(">H", int(v)) for v in depth[r]) + b"\xee" * PADDING for r in range(HEIGHT)]
    return _image("16UC1", rows, big_endian=True)


def main(timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("dds_test_publisher")
    acked = []
    node.create_subscription(String, "ack", lambda msg: acked.append(msg.data), reliable_qos())
    markers = node.create_publisher(MarkerArray, "objects/markers", latched_qos())
    images = node.create_publisher(Image, "image", reliable_qos())
    depths = node.create_publisher(Image, "depth", reliable_qos())
    vertices, triangles = tetrahedron()
    markers.publish(MarkerArray(markers=[mesh_marker(vertices, triangles, marker_id=7, frame_id="world")]))
    rgb, depth = rgb_message(), depth_message()
    deadline = time.monotonic() + timeout_s
    next_publish = 0.0
    while not acked and time.monotonic() < deadline:
        if time.monotonic() >= next_publish:
            images.publish(rgb)
            depths.publish(depth)
            next_publish = time.monotonic() + 0.05
        rclpy.spin_once(node, timeout_sec=0.01)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if acked else 3


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0))
