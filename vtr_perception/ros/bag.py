"""ROS 2 bags without a ROS installation: record and play the camera streams with `rosbags`.

Messages are stored as the CDR bytes rclpy serialises (the rosbag2 format), so a bag
written here plays in `ros2 bag play` and a bag recorded on a robot plays here.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image

from vtr_perception.ros.qos import reliable_qos

# Topics of a camera run (relative names) and their types.
CAMERA_TOPICS: dict[str, type] = {
    "image": Image,
    "depth": Image,
    "camera_info": CameraInfo,
    "camera_pose": PoseStamped,
}


def _type_name(msg_type: type) -> str:
    module = msg_type.__module__.split(".")[0]  # e.g. sensor_msgs
    return f"{module}/msg/{msg_type.__name__}"


class BagRecorder:
    """Subscribes to topics on ``node`` and writes every message into a new rosbag2 directory."""

    def __init__(self, node: Node, path: str | Path, topics: dict[str, type] | None = None) -> None:
        from rosbags.rosbag2 import Writer
        from rosbags.typesys import Stores, get_typestore

        self.path = Path(path)
        if self.path.exists():
            raise ValueError(f"bag {self.path} already exists; choose a new path")
        self._writer = Writer(self.path, version=9)
        self._writer.open()
        self._lock = threading.Lock()
        self.count = 0
        store = get_typestore(Stores.ROS2_HUMBLE)
        for topic, msg_type in (topics or CAMERA_TOPICS).items():
            full = node.resolve_topic_name(topic)
            conn = self._writer.add_connection(full, _type_name(msg_type), typestore=store)
            node.create_subscription(msg_type, topic, lambda m, c=conn: self._write(c, m), reliable_qos(depth=20))

    def _write(self, connection, msg) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.write(connection, time.time_ns(), serialize_message(msg))
                self.count += 1

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def read_bag(path: str | Path, topics: dict[str, type] | None = None):
    """Yield (relative topic, timestamp_ns, message) in time order for the camera topics of a bag."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag {path} does not exist")
    wanted = topics or CAMERA_TOPICS
    with Reader(path) as reader:
        conns = [c for c in reader.connections if c.topic.rsplit("/", 1)[-1] in wanted]
        if not any(c.topic.rsplit("/", 1)[-1] == "image" for c in conns):
            raise ValueError(f"bag {path} has no image topic; it has {sorted(c.topic for c in reader.connections)}")
        for conn, stamp, raw in reader.messages(connections=conns):
            name = conn.topic.rsplit("/", 1)[-1]
            yield name, stamp, deserialize_message(bytes(raw), wanted[name])


def play_into(node: Node, path: str | Path, *, rate: float = 1.0) -> int:
    """Publish a bag's camera topics from ``node`` at ``rate`` times the recorded speed; returns the count."""
    pubs = {name: node.create_publisher(t, name, reliable_qos(depth=20)) for name, t in CAMERA_TOPICS.items()}
    time.sleep(1.0)  # let discovery match the subscribers before the first message
    start_wall, start_bag, n = time.monotonic(), None, 0
    for name, stamp, msg in read_bag(path):
        start_bag = stamp if start_bag is None else start_bag
        delay = (stamp - start_bag) / 1e9 / rate - (time.monotonic() - start_wall)
        if delay > 0:
            time.sleep(delay)
        pubs[name].publish(msg)
        n += 1
    return n
