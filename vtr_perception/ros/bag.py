"""ROS 2 bags without a ROS installation: record and play camera streams with `rosbags`.

Messages are stored as the CDR bytes rclpy serialises (the rosbag2 format), so a bag
written here plays in `ros2 bag play` and a bag recorded on a robot plays here.

Topic names are kept exactly: the recorder writes each topic under its full name, the player
publishes each under the name it was recorded with, and nodes reach a driver's names
(``/camera/camera/color/image_raw``) through remappings (``image:=/camera/camera/color/image_raw``),
as with ``ros2 bag play``. QoS follows rosbag2: the recorder subscribes to each topic with what
its publishers offer (best effort if any publisher is, transient local only if every one is) and
stores the offered profiles in the bag's metadata; the player offers the recorded durability (a
latched topic such as ``/tf_static`` is latched again) and always reliable delivery, which both
reliable and best-effort subscribers accept.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Collection, Iterator
from pathlib import Path

from geometry_msgs.msg import PoseStamped
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image

from vtr_perception.ros import conversions as conv
from vtr_perception.ros.bag_tf import TF_TOPICS, TransformTree

# What `demo --record` records (names relative to the recording node, written resolved) and their types.
CAMERA_TOPICS: dict[str, type] = {
    "image": Image,
    "depth": Image,
    "camera_info": CameraInfo,
    "camera_pose": PoseStamped,
}
TF_TYPE = "tf2_msgs/msg/TFMessage"
# Types the player publishes (bag type name -> rclpy class); TFMessage only where tf2_msgs is installed.
MESSAGE_TYPES: dict[str, type] = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CameraInfo": CameraInfo,
                                  "geometry_msgs/msg/PoseStamped": PoseStamped}  # fmt: skip
try:  # absent from the pip ROS wheels; a ROS install has it
    from tf2_msgs.msg import TFMessage

    MESSAGE_TYPES[TF_TYPE] = TFMessage
except ImportError:  # pragma: no cover - depends on the ROS installation
    TFMessage = None
REPLAY_MIN_DEPTH = 20


def _type_name(msg_type: type) -> str:
    module = msg_type.__module__.split(".")[0]  # e.g. sensor_msgs
    return f"{module}/msg/{msg_type.__name__}"


def topic_name(remaps: dict[str, str] | None, name: str) -> str:
    """The absolute topic a node in the root namespace reads for input ``name`` under ``remaps`` (FROM -> TO)."""
    return "/" + (remaps or {}).get(name, name).lstrip("/")


def recording_qos(offers: list[QoSProfile], *, depth: int = 20) -> QoSProfile:
    """The subscription QoS that receives from every offered profile (rosbag2's rule).

    Best effort if any publisher is best effort (a reliable subscription would get nothing from it);
    transient local only if every publisher is (a latched topic's message is then received too).
    """
    best_effort = any(q.reliability == ReliabilityPolicy.BEST_EFFORT for q in offers)
    latched = bool(offers) and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max([depth, *(q.depth for q in offers if latched)]),
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def _bag_time(d: Duration):
    from rosbags.interfaces import QosTime

    return QosTime(d.nanoseconds // 1_000_000_000, d.nanoseconds % 1_000_000_000)


def offered_to_bag(profile: QoSProfile):
    """An offered rclpy QoS profile as the rosbags ``Qos`` the bag's metadata stores (offered_qos_profiles)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability

    return Qos(
        QosHistory[profile.history.name.upper()],
        profile.depth,
        QosReliability[profile.reliability.name.upper()],
        QosDurability[profile.durability.name.upper()],
        _bag_time(profile.deadline),
        _bag_time(profile.lifespan),
        QosLiveliness[profile.liveliness.name.upper()],
        _bag_time(profile.liveliness_lease_duration),
        profile.avoid_ros_namespace_conventions,
    )


def replay_qos(offers: list) -> QoSProfile:
    """The QoS a player offers for a topic recorded with ``offers`` (rosbags ``Qos``; empty when unknown).

    Reliable always: a reliable publisher serves reliable and best-effort subscribers, and under best
    effort most VGA frames of a played bag were lost over UDP. Transient local where every recorded
    publisher was (a latched topic), keeping as many messages as they did.
    """
    latched = bool(offers) and all(q.durability.name == "TRANSIENT_LOCAL" for q in offers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max([REPLAY_MIN_DEPTH, *(q.depth for q in offers if latched)]),
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class BagRecorder:
    """Records topics seen by ``node`` into a new rosbag2 directory, each with its publishers' QoS.

    A topic is subscribed once a publisher of it is discovered (polled every ``discovery_period_s``),
    with :func:`recording_qos` of the offered profiles, which the bag's metadata keeps. The rosbags
    Writer keeps an SQLite connection that may only be used from the thread that opened it, while
    callbacks run on whichever thread spins the executor (the demo spins in a thread of its own). So
    one writer thread owns the Writer from open to close; callbacks only serialise and queue.
    ``count`` and ``counts`` (per name as given in ``topics``) are the messages written; ``recording``
    maps each subscribed name to its subscription QoS.
    """

    def __init__(
        self,
        node: Node,
        path: str | Path,
        topics: dict[str, type] | None = None,
        *,
        discovery_period_s: float = 0.2,
    ) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise ValueError(f"bag {self.path} already exists; choose a new path")
        topics = topics or CAMERA_TOPICS
        self.count = 0
        self.counts: dict[str, int] = dict.fromkeys(topics, 0)
        self.recording: dict[str, QoSProfile] = {}
        self._node = node
        self._pending = {name: (node.resolve_topic_name(name), t) for name, t in topics.items()}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bag-writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise ValueError(f"cannot write bag {self.path}: {self._error}") from self._error
        self._discover()
        self._timer = node.create_timer(discovery_period_s, self._discover)

    def _discover(self) -> None:
        """Subscribe to each pending topic that now has publishers of its type, with their QoS."""
        with self._lock:
            for name, (full, msg_type) in list(self._pending.items()):
                if self._closed:
                    return
                infos = self._node.get_publishers_info_by_topic(full)
                offers = [i.qos_profile for i in infos if i.topic_type == _type_name(msg_type)]
                if not offers:
                    if infos:  # published, but as another type: not recorded
                        self._node.get_logger().warning(
                            f"bag: {full} is {infos[0].topic_type}, not {_type_name(msg_type)}; not recording it",
                            throttle_duration_sec=10.0,
                        )
                    continue
                del self._pending[name]
                self._queue.put(("topic", name, full, _type_name(msg_type), [offered_to_bag(q) for q in offers]))
                qos = recording_qos(offers)
                self._node.create_subscription(msg_type, full, lambda m, n=name: self._enqueue(n, m), qos)
                self.recording[name] = qos

    def _enqueue(self, name: str, msg) -> None:
        if not self._closed:
            self._queue.put(("message", name, time.time_ns(), serialize_message(msg)))

    def _run(self) -> None:
        """The writer thread: open, add topics and write messages as queued until the None sentinel, close."""
        from rosbags.rosbag2 import Writer
        from rosbags.typesys import Stores, get_typestore

        try:
            writer = Writer(self.path, version=9)
            writer.open()
            store = get_typestore(Stores.ROS2_HUMBLE)
        except Exception as exc:  # reported to the constructor
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        conns = {}
        try:
            while (item := self._queue.get()) is not None:
                if item[0] == "topic":
                    _, name, full, type_name, offers = item
                    conns[name] = writer.add_connection(full, type_name, typestore=store, offered_qos_profiles=offers)
                    continue
                _, name, stamp, raw = item
                writer.write(conns[name], stamp, raw)
                self.counts[name] += 1
                self.count += 1
        finally:
            writer.close()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking messages, write what is queued and close the bag (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._timer.cancel()
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


def _playable_connections(reader, path: Path, image_topic: str) -> list:
    """The bag's connections of types the player publishes, checked to include ``image_topic`` as an Image."""
    by_topic = {c.topic: c for c in reader.connections}
    image = by_topic.get(image_topic)
    if image is None:
        raise ValueError(f"bag {path} has no image topic {image_topic} (remap image:=TOPIC); it has {sorted(by_topic)}")
    if image.msgtype != "sensor_msgs/msg/Image":
        raise ValueError(f"bag {path}: topic {image_topic} holds {image.msgtype}, expected sensor_msgs/msg/Image")
    return [c for c in reader.connections if c.msgtype in MESSAGE_TYPES]


def check_bag(path: str | Path, image_topic: str = "/image") -> int:
    """The number of messages the player publishes from a bag, after checking it opens and has ``image_topic``."""
    path = Path(path)
    with open_bag(path) as reader:
        return sum(c.msgcount for c in _playable_connections(reader, path, image_topic))


def read_bag(path: str | Path, topics: Collection[str] | None = None) -> Iterator[tuple[str, int, object]]:
    """Yield (topic, timestamp_ns, message) in time order for ``topics`` (default: every playable topic)."""
    path = Path(path)
    with open_bag(path) as reader:
        conns = [c for c in reader.connections if c.msgtype in MESSAGE_TYPES and (topics is None or c.topic in topics)]
        try:
            for conn, stamp, raw in reader.messages(connections=conns):
                yield conn.topic, stamp, deserialize_message(bytes(raw), MESSAGE_TYPES[conn.msgtype])
        except Exception as exc:  # a damaged database page or a message that does not deserialise
            raise ValueError(f"bag {path}: unreadable message ({_first_line(exc)})") from None


def read_transforms(path: str | Path) -> TransformTree | None:
    """The bag's ``/tf`` and ``/tf_static`` transforms (read with rosbags, no tf2_msgs), or None if it has none."""
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    with open_bag(path) as reader:
        conns = [c for c in reader.connections if c.topic in TF_TOPICS and c.msgtype == TF_TYPE]
        if not conns:
            return None
        store, tree = get_typestore(Stores.ROS2_HUMBLE), TransformTree()
        try:
            for conn, _, raw in reader.messages(connections=conns):
                tree.add_message(store.deserialize_cdr(bytes(raw), TF_TYPE), static=conn.topic == "/tf_static")
        except Exception as exc:
            raise ValueError(f"bag {path}: unreadable transform ({_first_line(exc)})") from None
    return tree


# A frame's messages recorded microseconds apart go out as one burst (about 2 MB at VGA) that can overflow Fast
# DDS's UDP buffers: the small camera_pose is then lost and repaired by the reliable protocol seconds late (1.8 s
# seen), so its frame waits for it and is skipped, and the frames dropped meanwhile look like a camera pose jump.
# As sim_camera_node does (publish_spacing_s), consecutive messages go out at least this far apart.
PLAY_SPACING_S = 0.005


class BagPlayer:
    """Publishes a bag from ``node``: every playable topic under its recorded name, with :func:`replay_qos`.

    ``remaps`` are the nodes' input remappings (``image`` -> the bag's image topic, ...): they name the
    image topic the player waits on and, for a bag with TF but no camera pose topic, the ``camera_pose``
    topic on which it publishes, before each image, the pose of the image's frame in ``world_frame``
    from the bag's TF (for nodes without tf2; with tf2 they read the played ``/tf`` themselves).
    ``poses_from_tf`` and ``poses_missing`` count those poses published and not found.
    """

    def __init__(self, node: Node, path: str | Path, *, remaps: dict[str, str] | None = None,
                 world_frame: str = "world") -> None:  # fmt: skip
        self.node, self.path, self.world_frame = node, Path(path), world_frame
        self.image_topic = topic_name(remaps, "image")
        pose_topic = topic_name(remaps, "camera_pose")
        with open_bag(self.path) as reader:
            conns = _playable_connections(reader, self.path, self.image_topic)
            topics = {c.topic: c for c in conns}
        self.publishers = {
            topic: node.create_publisher(MESSAGE_TYPES[c.msgtype], topic, replay_qos(c.ext.offered_qos_profiles))
            for topic, c in topics.items()
        }
        self.transforms = None if pose_topic in topics else read_transforms(self.path)
        self.pose_publisher = None
        if self.transforms is not None:
            self.pose_publisher = node.create_publisher(PoseStamped, pose_topic, replay_qos([]))
        self.poses_from_tf = self.poses_missing = 0

    def wait_for_subscriber(self, timeout_s: float) -> bool:
        """Wait until something subscribes to the image topic (a node that has loaded its model)."""
        deadline = time.monotonic() + timeout_s
        while self.node.count_subscribers(self.image_topic) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.node.count_subscribers(self.image_topic) >= 1

    def _publish_pose(self, msg: Image) -> None:
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        T = self.transforms.lookup(self.world_frame, msg.header.frame_id, stamp)
        if T is None:
            self.poses_missing += 1
            return
        self.pose_publisher.publish(conv.matrix_to_pose_stamped(T, stamp=msg.header.stamp, frame_id=self.world_frame))
        self.poses_from_tf += 1

    def play(self, *, rate: float = 1.0, spacing_s: float = PLAY_SPACING_S) -> int:
        """Publish every message at ``rate`` times the recorded speed, consecutive ones at least ``spacing_s``
        apart (see ``PLAY_SPACING_S``); returns the count published."""
        start_wall, start_bag, n, last = time.monotonic(), None, 0, float("-inf")
        for topic, stamp, msg in read_bag(self.path, self.publishers):
            start_bag = stamp if start_bag is None else start_bag
            due = start_wall + (stamp - start_bag) / 1e9 / rate
            delay = max(due, last + spacing_s) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if topic == self.image_topic and self.pose_publisher is not None:
                self._publish_pose(msg)
            self.publishers[topic].publish(msg)
            last = time.monotonic()
            n += 1
        return n


def play_into(node: Node, path: str | Path, *, rate: float = 1.0, remaps: dict[str, str] | None = None,
              world_frame: str = "world", wait_s: float = 60.0) -> int:  # fmt: skip
    """Play a bag from ``node`` into nodes reading it through ``remaps`` (see :class:`BagPlayer`); the count.

    A TimeoutError when nothing subscribes to the image topic within ``wait_s``."""
    player = BagPlayer(node, path, remaps=remaps, world_frame=world_frame)
    if not player.wait_for_subscriber(wait_s):
        raise TimeoutError(f"nothing subscribed to {player.image_topic} within {wait_s:.0f} s")
    time.sleep(1.0)  # let discovery match the other topics' subscribers too
    return player.play(rate=rate)
