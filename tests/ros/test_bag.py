"""rosbag2 record and read without ROS tooling (the demo's --record and --bag)."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from tests.ros.helpers import PYTHON, REPO, child_env, isolated_node, spin_until  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.bag import BagRecorder, check_bag, read_bag  # noqa: E402

pytestmark = pytest.mark.ros


def test_recorded_camera_messages_read_back_identical(tmp_path):
    path = tmp_path / "run"
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    with isolated_node("bag_test") as (node, executor):
        recorder = BagRecorder(node, path)
        pub_image = node.create_publisher(Image, "image", 10)
        pub_pose = node.create_publisher(PoseStamped, "camera_pose", 10)
        assert spin_until(executor, lambda: {"image", "camera_pose"} <= set(recorder.recording), timeout_s=10.0)
        T = np.eye(4)
        T[:3, 3] = [0.1, 0.2, 0.3]
        for k in range(3):
            spin_until(executor, lambda: False, timeout_s=0.2)  # let the recorder's subscriptions match
            pub_image.publish(conv.numpy_to_image(rgb, "rgb8", stamp=float(k + 1), frame_id="cam"))
            pub_pose.publish(conv.matrix_to_pose_stamped(T, stamp=float(k + 1), frame_id="world"))
        assert spin_until(executor, lambda: recorder.count >= 6, timeout_s=10.0), recorder.count
        recorder.close()
    messages = list(read_bag(path))
    images = [m for name, _, m in messages if name == "/image"]
    poses = [m for name, _, m in messages if name == "/camera_pose"]
    assert len(images) == 3 and len(poses) == 3
    np.testing.assert_array_equal(conv.image_to_rgb(images[0]), rgb)
    np.testing.assert_allclose(conv.pose_to_matrix(poses[-1]), T, atol=1e-12)
    with pytest.raises(ValueError, match="already exists"):
        with isolated_node("bag_test2") as (node, _):
            BagRecorder(node, path)


def test_reading_a_missing_bag_or_one_without_images_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(read_bag(tmp_path / "nope"))


def _small_bag(path, storage: str = "SQLITE3"):
    """A two-message camera bag written with rosbags alone (sqlite3 or mcap storage)."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    writer = Writer(path, version=9, storage_plugin=StoragePlugin[storage])
    writer.open()
    conn = writer.add_connection("/image", "sensor_msgs/msg/Image", typestore=get_typestore(Stores.ROS2_HUMBLE))
    rgb = np.zeros((2, 2, 3), np.uint8)
    for k in range(2):
        writer.write(conn, k * 1000, serialize_message(conv.numpy_to_image(rgb, "rgb8", stamp=k + 1.0, frame_id="c")))
    writer.close()
    return path


def _corrupt(tmp_path, case: str):
    """A path that is no readable bag: ``case`` says how it broke."""
    if case == "not a bag":
        (tmp_path / "notes.txt").write_text("not a bag")
        return tmp_path / "notes.txt"
    if case == "empty directory":
        (tmp_path / "empty").mkdir()
        return tmp_path / "empty"
    storage = "MCAP" if "mcap" in case else "SQLITE3"
    bag = _small_bag(tmp_path / "bag", storage)
    data = next(f for f in bag.iterdir() if f.name != "metadata.yaml")
    if case == "garbage metadata.yaml":
        (bag / "metadata.yaml").write_text("{{{ not yaml")
    elif case.startswith("truncated"):
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    else:
        data.write_bytes(b"garbage" * 100)
    return bag


CORRUPT = ["not a bag", "empty directory", "garbage metadata.yaml", "garbage db3", "truncated db3", "garbage mcap",
           "truncated mcap"]  # fmt: skip


def test_a_good_bag_checks_and_counts_its_camera_messages(tmp_path):
    for storage in ("SQLITE3", "MCAP"):
        assert check_bag(_small_bag(tmp_path / storage, storage)) == 2


@pytest.mark.parametrize("case", CORRUPT)
def test_a_corrupt_bag_is_one_value_error_naming_it(tmp_path, case):
    bag = _corrupt(tmp_path, case)
    with pytest.raises(ValueError, match=rf"^bag {bag} is not a readable rosbag2 bag \([^\n]+\)$"):
        check_bag(bag)
    with pytest.raises(ValueError, match=f"bag {bag}"):
        list(read_bag(bag))


@pytest.mark.parametrize("case", ["not a bag", "garbage db3"])
def test_demo_on_a_corrupt_bag_exits_1_with_one_line_before_any_node_starts(tmp_path, case):
    bag = _corrupt(tmp_path, case)
    out = tmp_path / "out"
    done = subprocess.run([PYTHON, "-m", "vtr_perception.cli", "demo", "--bag", str(bag), "--out", str(out)],
                          env=child_env(), cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vtr-perception demo: error: bag {bag} "), done.stderr
    assert not (out / "logs").exists(), "nodes were started for a bag that does not open"


def test_recording_from_an_executor_thread_writes_every_message_of_each_topic(tmp_path):
    """As in `demo --record`: the executor spins in another thread than the one that made the recorder."""
    import threading
    from collections import Counter

    from sensor_msgs.msg import CameraInfo

    from vtr_perception.geometry.cameras import Intrinsics

    path = tmp_path / "run"
    frames = 8
    K = Intrinsics.from_fov(640, 480, 60)
    rgb = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)  # VGA: large messages
    depth = np.full((480, 640), 0.8, dtype=np.float32)
    with isolated_node("bag_thread_test") as (node, executor):
        recorder = BagRecorder(node, path)
        types = {"image": Image, "depth": Image, "camera_info": CameraInfo, "camera_pose": PoseStamped}
        pubs = {name: node.create_publisher(t, name, 20) for name, t in types.items()}
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        deadline = time.monotonic() + 10.0
        while len(recorder.recording) < len(types) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # every topic's subscription matched
        for k in range(frames):
            stamp = 1.0 + k / 15.0
            pubs["image"].publish(conv.numpy_to_image(rgb, "rgb8", stamp=stamp, frame_id="cam"))
            pubs["depth"].publish(conv.numpy_to_image(depth, "32FC1", stamp=stamp, frame_id="cam"))
            pubs["camera_info"].publish(conv.intrinsics_to_camera_info(K, stamp=stamp, frame_id="cam"))
            pubs["camera_pose"].publish(conv.matrix_to_pose_stamped(np.eye(4), stamp=stamp, frame_id="world"))
            time.sleep(1.0 / 15.0)
        deadline = time.monotonic() + 10.0
        while recorder.count < 4 * frames and time.monotonic() < deadline:
            time.sleep(0.05)
        recorder.close()
        executor.shutdown()
        spinner.join(timeout=5.0)
    assert recorder.counts == {"image": frames, "depth": frames, "camera_info": frames, "camera_pose": frames}
    read = Counter(name for name, _, _ in read_bag(path))
    assert read == Counter({f"/{name}": n for name, n in recorder.counts.items()})


def _offers(path) -> dict[str, list]:
    """Each topic's offered QoS profiles as the bag's metadata keeps them."""
    from rosbags.rosbag2 import Reader

    with Reader(path) as reader:
        return {c.topic: c.ext.offered_qos_profiles for c in reader.connections}


def test_recorder_takes_a_best_effort_driver_and_a_latched_topic_with_their_qos_under_their_full_names(tmp_path):
    """A best-effort camera is recorded, a latched message sent before recording is too, names are kept."""
    from sensor_msgs.msg import CameraInfo

    from vtr_perception.ros.qos import image_qos, latched_qos

    path = tmp_path / "run"
    rgb = np.zeros((4, 6, 3), np.uint8)
    with isolated_node("bag_qos_test") as (node, executor):
        driver = node.create_publisher(Image, "/camera/camera/color/image_raw", image_qos("sensor_data"))
        other = node.create_publisher(Image, "/other/color/image_raw", 10)  # same last segment, not asked for
        latched = node.create_publisher(CameraInfo, "/camera/camera/color/camera_info", latched_qos())
        latched.publish(CameraInfo(width=6, height=4))  # before the recorder exists
        topics = {"/camera/camera/color/image_raw": Image, "/camera/camera/color/camera_info": CameraInfo}
        recorder = BagRecorder(node, path, topics)
        assert spin_until(executor, lambda: len(recorder.recording) == 2, timeout_s=10.0), recorder.recording
        qos = recorder.recording
        assert qos["/camera/camera/color/image_raw"].reliability == ReliabilityPolicy.BEST_EFFORT
        assert qos["/camera/camera/color/camera_info"].durability == DurabilityPolicy.TRANSIENT_LOCAL
        for k in range(3):
            spin_until(executor, lambda: False, timeout_s=0.2)
            driver.publish(conv.numpy_to_image(rgb, "rgb8", stamp=float(k + 1), frame_id="cam"))
            other.publish(conv.numpy_to_image(rgb, "rgb8", stamp=float(k + 1), frame_id="cam"))
        assert spin_until(executor, lambda: recorder.count >= 4, timeout_s=10.0), recorder.counts
        recorder.close()
    read = [(topic, msg) for topic, _, msg in read_bag(path)]
    assert sorted({t for t, _ in read}) == ["/camera/camera/color/camera_info", "/camera/camera/color/image_raw"]
    assert sum(t == "/camera/camera/color/image_raw" for t, _ in read) == 3
    assert [m.width for t, m in read if t.endswith("camera_info")] == [6]
    offers = _offers(path)
    assert [q.reliability.name for q in offers["/camera/camera/color/image_raw"]] == ["BEST_EFFORT"]
    assert [q.durability.name for q in offers["/camera/camera/color/camera_info"]] == ["TRANSIENT_LOCAL"]


def test_recording_qos_follows_rosbag2_and_replay_offers_reliable_with_the_recorded_durability():
    from vtr_perception.ros.bag import offered_to_bag, recording_qos, replay_qos
    from vtr_perception.ros.qos import image_qos, latched_qos, reliable_qos

    best, reliable, latched = image_qos("sensor_data"), reliable_qos(), latched_qos(depth=3)
    assert recording_qos([reliable, best]).reliability == ReliabilityPolicy.BEST_EFFORT
    assert recording_qos([reliable]).reliability == ReliabilityPolicy.RELIABLE
    assert recording_qos([latched]).durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert recording_qos([latched, reliable]).durability == DurabilityPolicy.VOLATILE  # a volatile one: not latched
    for offers, durability in (([best], DurabilityPolicy.VOLATILE), ([latched], DurabilityPolicy.TRANSIENT_LOCAL),
                               ([], DurabilityPolicy.VOLATILE)):  # fmt: skip
        replay = replay_qos([offered_to_bag(q) for q in offers])
        assert replay.reliability == ReliabilityPolicy.RELIABLE and replay.durability == durability


def test_player_offers_a_recorded_latched_topic_latched_to_a_late_subscriber(tmp_path):
    """The bag's metadata says camera_info was latched: a subscriber that joins after the play still gets it."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    from sensor_msgs.msg import CameraInfo

    from vtr_perception.ros.bag import BagPlayer, offered_to_bag
    from vtr_perception.ros.qos import latched_qos

    path, store = tmp_path / "bag", get_typestore(Stores.ROS2_HUMBLE)
    with Writer(path, version=9) as writer:
        latched = [offered_to_bag(latched_qos())]
        image = writer.add_connection("/image", "sensor_msgs/msg/Image", typestore=store)
        info = writer.add_connection(
            "/info", "sensor_msgs/msg/CameraInfo", typestore=store, offered_qos_profiles=latched
        )
        writer.write(info, 1000, serialize_message(CameraInfo(width=640, height=480)))
        writer.write(image, 2000, serialize_message(conv.numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8")))
    got = []
    with isolated_node("bag_latched_test") as (node, executor):
        player = BagPlayer(node, path)
        assert player.play() == 2
        node.create_subscription(CameraInfo, "/info", got.append, latched_qos())
        assert spin_until(executor, lambda: got, timeout_s=10.0)
    assert got[0].width == 640


def test_player_spaces_a_frames_messages_recorded_microseconds_apart(tmp_path):
    """A burst of a VGA frame's messages lost a small pose on UDP: the player sends them PLAY_SPACING_S apart."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    from sensor_msgs.msg import CameraInfo

    from vtr_perception.ros.bag import PLAY_SPACING_S, BagPlayer

    path, store = tmp_path / "bag", get_typestore(Stores.ROS2_HUMBLE)
    with Writer(path, version=9) as writer:
        info = writer.add_connection("/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        image = writer.add_connection("/image", "sensor_msgs/msg/Image", typestore=store)
        for j in range(3):  # one frame: three messages 1 us apart
            writer.write(info, 1_000_000_000 + j * 1000, serialize_message(CameraInfo(width=640, height=480)))
        writer.write(
            image, 1_000_003_000, serialize_message(conv.numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8"))
        )
    sent: list[float] = []
    with isolated_node("bag_spacing_test") as (node, _):
        player = BagPlayer(node, path)
        for publisher in player.publishers.values():
            publish = publisher.publish
            publisher.publish = lambda msg, publish=publish: (sent.append(time.monotonic()), publish(msg))
        assert player.play() == 4
    assert len(sent) == 4 and min(np.diff(sent)) >= 0.9 * PLAY_SPACING_S


def test_a_bag_without_the_remapped_image_topic_names_what_it_has_and_never_matches_a_last_segment(tmp_path):
    """/camera/image is not /image: the check names the topics and the remapping to give."""
    bag = _small_bag(tmp_path / "bag")
    assert check_bag(bag, image_topic="/image") == 2
    with pytest.raises(
        ValueError, match=r"has no image topic /camera/image \(remap image:=TOPIC\); it has \['/image'\]"
    ):
        check_bag(bag, image_topic="/camera/image")


def test_remap_arguments_parse_and_a_malformed_one_is_one_error():
    from vtr_perception.commands.demo import parse_remaps

    assert parse_remaps(["image:=/camera/camera/color/image_raw", " depth := /d "]) == {
        "image": "/camera/camera/color/image_raw",
        "depth": "/d",
    }
    for bad in ("image=/x", ":=/x", "image:="):
        with pytest.raises(ValueError, match="--remap expects FROM:=TO"):
            parse_remaps([bad])


def test_world_frame_of_a_bag_goes_to_both_nodes_and_the_player_only_when_given():
    import argparse

    from vtr_perception.commands.demo import add_arguments
    from vtr_perception.ros.demo_runner import bag_node_parameters, bag_world_frame

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    plain, odom = parser.parse_args(["--bag", "b"]), parser.parse_args(["--bag", "b", "--world-frame", "odom"])
    assert bag_world_frame(plain) == "world" and "world_frame" not in bag_node_parameters(plain)
    assert bag_world_frame(odom) == "odom" and bag_node_parameters(odom)["world_frame"] == "odom"


def test_playing_into_nothing_is_a_timeout_naming_the_image_topic(tmp_path):
    from vtr_perception.ros.bag import play_into

    bag = _small_bag(tmp_path / "bag")
    with isolated_node("bag_nobody_test") as (node, _):
        with pytest.raises(TimeoutError, match="nothing subscribed to /image within 1 s"):
            play_into(node, bag, wait_s=1.0)
