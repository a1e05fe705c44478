"""ROS 2 bags without a ROS installation: record and play the camera streams with `rosbags`.

Messages are stored as the CDR bytes rclpy serialises (the rosbag2 format), so a bag
written here plays in `ros2 bag play` and a bag recorded on a robot plays here.
"""

from __future__ import annotations

import contextlib
import queue
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
    """Subscribes to topics on ``node`` and writes every message into a new rosbag2 directory.

    The rosbags Writer keeps an SQLite connection that may only be used from the thread that opened it,
    while subscription callbacks run on whichever thread spins the executor (the demo spins in a
    thread of its own). So one writer thread owns the Writer from open to close; callbacks only
    serialise and queue. ``count`` and ``counts`` (per relative topic) are the messages written.
    """

    def __init__(self, node: Node, path: str | Path, topics: dict[str, type] | None = None) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise ValueError(f"bag {self.path} already exists; choose a new path")
        topics = topics or CAMERA_TOPICS
        self.count = 0
        self.counts: dict[str, int] = dict.fromkeys(topics, 0)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        wanted = {name: (node.resolve_topic_name(name), _type_name(t)) for name, t in topics.items()}
        self._thread = threading.Thread(target=self._run, args=(wanted,), name="bag-writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise ValueError(f"cannot write bag {self.path}: {self._error}") from self._error
        for name, msg_type in topics.items():
            node.create_subscription(msg_type, name, lambda m, n=name: self._enqueue(n, m), reliable_qos(depth=20))

    def _enqueue(self, name: str, msg) -> None:
        if not self._closed:
            self._queue.put((name, time.time_ns(), serialize_message(msg)))

    def _run(self, wanted: dict[str, tuple[str, str]]) -> None:
        """The writer thread: open, write what is queued until the None sentinel, close."""
        from rosbags.rosbag2 import Writer
        from rosbags.typesys import Stores, get_typestore

        try:
            writer = Writer(self.path, version=9)
            writer.open()
            store = get_typestore(Stores.ROS2_HUMBLE)
            conns = {name: writer.add_connection(full, type_name, typestore=store)
                     for name, (full, type_name) in wanted.items()}  # fmt: skip
        except Exception as exc:  # reported to the constructor
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while (item := self._queue.get()) is not None:
                name, stamp, raw = item
                writer.write(conns[name], stamp, raw)
                self.counts[name] += 1
                self.count += 1
        finally:
            writer.close()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking messages, write what is queued and close the bag (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout_s)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def open_bag(path: str | Path):
    """A rosbags Reader on ``path``; a missing bag is a FileNotFoundError, an unreadable one a ValueError naming it."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag {path} does not exist")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags' ReaderError, a FileNotFoundError for a directory without metadata.yaml
        raise ValueError(f"bag {path} is not a readable rosbag2 bag ({_first_line(exc)})") from None
    try:
        yield reader
    finally:
        reader.close()


def _camera_connections(reader, path: Path, wanted: dict[str, type]) -> list:
    """The bag's connections on ``wanted`` topics (by relative name), checked: an image topic, the expected types."""
    conns = [c for c in reader.connections if c.topic.rsplit("/", 1)[-1] in wanted]
    if not any(c.topic.rsplit("/", 1)[-1] == "image" for c in conns):
        raise ValueError(f"bag {path} has no image topic; it has {sorted(c.topic for c in reader.connections)}")
    for c in conns:
        expected = _type_name(wanted[c.topic.rsplit("/", 1)[-1]])
        if c.msgtype != expected:
            raise ValueError(f"bag {path}: topic {c.topic} holds {c.msgtype}, expected {expected}")
    return conns


def check_bag(path: str | Path, topics: dict[str, type] | None = None) -> int:
    """The number of camera messages in a bag, after checking it opens and has an image topic of the right types."""
    path = Path(path)
    with open_bag(path) as reader:
        return sum(c.msgcount for c in _camera_connections(reader, path, topics or CAMERA_TOPICS))


def read_bag(path: str | Path, topics: dict[str, type] | None = None):
    """Yield (relative topic, timestamp_ns, message) in time order for the camera topics of a bag."""
    path = Path(path)
    wanted = topics or CAMERA_TOPICS
    with open_bag(path) as reader:
        conns = _camera_connections(reader, path, wanted)
        try:
            for conn, stamp, raw in reader.messages(connections=conns):
                name = conn.topic.rsplit("/", 1)[-1]
                yield name, stamp, deserialize_message(bytes(raw), wanted[name])
        except Exception as exc:  # a damaged database page or a message that does not deserialise
            raise ValueError(f"bag {path}: unreadable message ({_first_line(exc)})") from None


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
