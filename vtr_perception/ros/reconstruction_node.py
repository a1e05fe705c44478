"""reconstruction_node: camera frames in, per-object meshes, poses and error volumes out.

A thin adapter: messages are converted (ros/conversions), assembled into frames by stamp
(ros/sync), handed to a worker thread that runs the plain PerceptionPipeline, and its
estimates are published. Frames that arrive while the worker is busy replace the waiting
one (the newest frame wins; the replaced one is counted as dropped). A bad frame is
logged (throttled), counted and skipped; the node keeps serving.

``~/reset`` (std_srvs/Trigger) starts over: every object is forgotten (its markers deleted, an
empty objects/poses and objects/error published) and frames received before the call are
dropped, so no view from before it survives. New objects get new ids.

Objects for robot software (ros/robot_outputs.py): ``objects/ids`` (std_msgs/Int32MultiArray) names the
objects of each ``objects/poses`` in the same order, published just before it; with tf2 each object is
also the TF frame ``object_<id>``. ``objects/detections`` (vision_msgs/Detection3DArray) and
``collision_object`` (moveit_msgs/CollisionObject, ADD and REMOVE as tracks appear, change and
retire) are published where their packages import (apt ros-<distro>-vision-msgs,
ros-<distro>-moveit-msgs); one INFO line at start says which are on.
``~/save_meshes`` (std_srvs/Trigger) writes each object's PLY in its own frame and in the world
frame and a poses.json into ``save_meshes_dir`` (ros/mesh_export.py); with no objects, or a
directory it cannot write, it answers success=False and says why.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray
from rclpy.node import Node

try:  # rclpy >= Iron
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from vtr_perception.geometry.cameras import transform_points
from vtr_perception.geometry.meshing import simplify_triangles
from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.object_pose import ObjectEstimate
from vtr_perception.perception.pipeline import PerceptionPipeline
from vtr_perception.ros import conversions as conv
from vtr_perception.ros.camera_pose import CameraPoseSource
from vtr_perception.ros.marker_scene import MarkerKeyframes
from vtr_perception.ros.mesh_export import SaveError, object_matrix, object_name, save_meshes
from vtr_perception.ros.node_main import run_node
from vtr_perception.ros.parameters import declare_from_dataclass, watch_dataclass
from vtr_perception.ros.qos import image_qos, latched_qos, reliable_qos
from vtr_perception.ros.robot_outputs import RobotOutputs
from vtr_perception.ros.stamp_gaps import StampGaps
from vtr_perception.ros.sync import Frame, FrameAssembler
from vtr_perception.ros.tf import TfPublisher

# objects/error: one point per voxel of every object's grid, in (i, j, k) order per object.
# Fields: position (world), occupancy, predicted error, object id and the object's view count.
# state: 0 unknown, 1 free, 2 occupied as measured (perception/fusion.py); 0 everywhere without evidence.
OBJECT_CLOUD_DTYPE = np.dtype([(n, "<f4") for n in ("x", "y", "z", "occupancy", "error", "id", "views", "state")])


# parameters `ros2 param set` changes at run time; the others (topics, QoS, model, perception.*) are read-only
MUTABLE_PARAMETERS = ("log_throttle_s", "marker_max_triangles", "pose_tolerance_s", "pose_wait_s", "stale_input_s",
                      "sync_slop_s", "publish_error_cloud", "save_meshes_dir")  # fmt: skip


@dataclass
class ReconstructionNodeConfig:
    """ROS-side options of the reconstruction node (the pipeline's are under `perception.`)."""

    world_frame: str = field(default="world", metadata={"help": "fixed frame of poses, meshes and error clouds"})
    pose_source: Literal["auto", "tf", "topic"] = field(
        default="auto", metadata={"help": "camera pose from tf2 (when importable), the camera_pose topic, or auto"}
    )
    image_qos: Literal["sensor_data", "reliable"] = field(
        default="sensor_data",
        metadata={"help": "QoS of image inputs: sensor_data (best effort: receives from any publisher) or reliable "
                          "(receives nothing from a best-effort driver). A VGA frame is ~1 MB in ~15 UDP "
                          "fragments: best effort lost 23-28 of 35 bag frames; use reliable for bags and "
                          "reliable drivers, and watch wire_lost.* in diagnostics"},
    )  # fmt: skip
    sync: Literal["exact", "approximate"] = field(
        default="exact", metadata={"help": "image/camera_info/depth/mask matching by exact or approximate stamp"}
    )
    sync_slop_s: float = field(default=0.02, metadata={"help": "approximate sync tolerance, seconds"})
    pose_tolerance_s: float = field(
        default=0.25,
        metadata={"help": "camera_pose messages this close to the image stamp are interpolated (or used), seconds"},
    )
    pose_qos: Literal["sensor_data", "reliable"] = field(
        default="reliable",
        metadata={
            "help": "QoS of camera_pose: sensor_data (a lost pose is interpolated over) or reliable (a lost pose "
            "stalls later ones until it is resent)"
        },
    )
    pose_wait_s: float = field(
        default=1.0, metadata={"help": "how long a frame waits for its camera_pose message to arrive, seconds"}
    )
    use_depth: bool = field(default=True, metadata={"help": "subscribe to depth (RGB-D); off = RGB only"})
    use_mask: bool = field(
        default=False, metadata={"help": "subscribe to an instance mask instead of depth segmentation"}
    )
    backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] = field(
        default="auto", metadata={"help": "inference runtime; auto picks the best that works"}
    )
    model_dir: str = field(default="", metadata={"help": "directory of the shipped model; empty = package share"})
    engine_cache: str = field(default="", metadata={"help": "TensorRT engine cache directory; empty = default"})
    marker_max_triangles: int = field(
        default=2000,
        metadata={"help": "mesh markers are decimated to at most this many triangles (0: as reconstructed); "
                          "building and serialising a TRIANGLE_LIST in Python grows with the triangle count, so "
                          "lower it when marker publishing slows the node",
                  "range": (0, 100000)},
    )  # fmt: skip
    marker_keyframe_every: int = field(
        default=5,
        metadata={"help": "objects/markers carries the objects whose mesh changed, and every this many arrays all "
                          "objects; it keeps this many arrays for late subscribers (transient local), so one that "
                          "asks for this depth is brought fully up to date (1: every array carries all objects)",
                  "range": (1, 50)},
    )  # fmt: skip
    publish_error_cloud: bool = field(default=True, metadata={"help": "publish objects/error (PointCloud2)"})
    publish_detections: bool = field(
        default=True,
        metadata={"help": "publish objects/detections (vision_msgs/Detection3DArray) where vision_msgs is installed"},
    )
    publish_collision_objects: bool = field(
        default=True,
        metadata={"help": "publish collision_object (moveit_msgs/CollisionObject: ADD and REMOVE as objects appear, "
                          "change and retire) where moveit_msgs is installed"},
    )  # fmt: skip
    save_meshes_dir: str = field(
        default="~/.ros/vtr_perception/meshes",
        metadata={"help": "directory ~/save_meshes writes object_<id>.ply (object frame), object_<id>_world.ply and "
                          "poses.json into; ~ is expanded, a relative path is from the node's working directory"},
    )  # fmt: skip
    diagnostics_period_s: float = field(default=0.5, metadata={"help": "diagnostics publishing period, seconds"})
    stale_input_s: float = field(
        default=1.0,
        metadata={"help": "an input topic (image, camera_info, depth, mask) silent this long is reported stale "
                          "(diagnostics WARN, input_age_s.*), seconds", "range": (0.05, 3600.0)},
    )  # fmt: skip
    log_throttle_s: float = field(default=5.0, metadata={"help": "minimum seconds between repeated warnings"})


def load_node_backend(config: ReconstructionNodeConfig):
    """The inference backend the node runs (resolved from the package share dir by default)."""
    from vtr_perception.infer import load_backend

    return load_backend(config.backend, model_dir=config.model_dir or None, engine_cache=config.engine_cache or None)


def object_cloud(est: ObjectEstimate) -> np.ndarray:
    """The structured points of objects/error for one estimate: every voxel, in the world frame."""
    R = est.occupancy.shape[0]
    local = voxel_centers(R).reshape(-1, 3) * est.grid_extent
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = est.grid_rotation, est.grid_center
    cloud = np.empty(R**3, OBJECT_CLOUD_DTYPE)
    cloud["x"], cloud["y"], cloud["z"] = transform_points(T, local).T
    cloud["occupancy"] = est.occupancy.reshape(-1)
    cloud["error"] = est.error.reshape(-1)
    cloud["state"] = 0.0 if est.state is None else est.state.reshape(-1)
    cloud["id"] = est.id
    cloud["views"] = est.num_views
    return cloud


@dataclass
class ObjectOutputs:
    """What the node publishes of one estimate, built once and reused while the estimate is unchanged."""

    estimate: ObjectEstimate
    mesh_marker: Marker | None  # None when the estimate has no surface
    cloud: np.ndarray
    mesh: tuple[np.ndarray, np.ndarray] | None = None  # the marker's decimated (world vertices, triangles)


def arrival_rate(times: collections.deque[float], now: float, window_s: float = 5.0) -> float:
    """Messages per second over the last ``window_s`` seconds of arrival ``times`` (0 when fewer than two)."""
    recent = [t for t in list(times) if now - t < window_s]
    return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0


def catching_up(arrived: float, previous_done: float, previous_reconstructed: bool) -> bool:
    """Whether a frame should skip reconstruction so that the worker catches up with the camera: it arrived
    (``time.time()``) while the worker was still busy (until ``previous_done``) with a frame that reconstructed.

    A reconstruction (network, meshing, publishing) takes longer than a camera period on a CPU; three objects
    that gain views together would otherwise be reconstructed on three frames in a row and frames would be
    dropped. Skipping one frame's turn lets a light frame follow each heavy one; no turn is lost."""
    return previous_reconstructed and arrived < previous_done


class LatestFrameSlot:
    """A one-frame mailbox between the callbacks and the worker: the newest frame wins."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float = 0.2) -> Frame | None:
        with self._cond:
            if self._frame is None and not self.closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class ReconstructionNode(Node):
    def __init__(self, *, backend=None, **kwargs) -> None:
        super().__init__("reconstruction", **kwargs)
        self.config = declare_from_dataclass(self, ReconstructionNodeConfig, mutable=MUTABLE_PARAMETERS)
        self.perception_config = declare_from_dataclass(self, PerceptionConfig, prefix="perception.", mutable=())
        self.backend = backend if backend is not None else load_node_backend(self.config)
        self.pipeline = PerceptionPipeline(self.perception_config, self.backend)
        providers = getattr(self.backend, "providers", None)  # ONNX Runtime: the execution providers in use
        self.get_logger().info(f"backend: {self.backend.name} ({self.backend.info.mode})"
                               + (f", providers {', '.join(providers)}" if providers else ""))  # fmt: skip

        cfg = self.config
        required = ["image", "camera_info"]
        if cfg.use_depth:
            required.append("depth")
        if cfg.use_mask:
            required.append("mask")
        self.assembler = FrameAssembler(tuple(required), mode=cfg.sync, slop=cfg.sync_slop_s)
        self.slot = LatestFrameSlot()
        self._last_warned: dict[str, float] = {}
        self.tf_publisher = TfPublisher(self)

        qos = image_qos(cfg.image_qos)
        # Frames lost on the wire: gaps in each stream's stamps, and DDS sample-lost events where the RMW has them.
        self.stamp_gaps: dict[str, StampGaps] = {}
        self.dds_lost: collections.Counter[str] = collections.Counter()
        parts = [("image", Image), ("camera_info", CameraInfo)]
        parts += [("depth", Image)] if cfg.use_depth else []
        parts += [("mask", Image)] if cfg.use_mask else []
        for part, msg_type in parts:
            self.stamp_gaps[part] = StampGaps()
            self._subscribe_part(part, msg_type, qos)
        self.camera_poses = CameraPoseSource(self, world_frame=cfg.world_frame, source=cfg.pose_source,
                                             qos=image_qos(cfg.pose_qos, depth=50), on_pose=self._on_pose,
                                             on_bad=lambda reason: self._skip("bad_camera_pose", reason))  # fmt: skip

        self.pub_markers = self.create_publisher(
            MarkerArray, "objects/markers", latched_qos(depth=cfg.marker_keyframe_every)
        )
        self.pub_poses = self.create_publisher(PoseArray, "objects/poses", reliable_qos())
        # 10 deep: a reliable writer replaces unacknowledged samples beyond its depth, and the empty cloud
        # that answers a reset must reach a slow subscriber although updates follow it at once.
        # Latched: a planner that starts, or is matched, after the last cloud still gets it (nbv_node keeps the
        # last 2). Else the loop can stall for good (no new view without a plan, no new cloud without a view):
        # seen under load, DDS matching nbv_node only after the objects' first clouds.
        self.pub_error = self.create_publisher(PointCloud2, "objects/error", latched_qos(depth=10))
        # absolute, as diagnostic_aggregator and rqt_robot_monitor expect it, also under a namespace
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", reliable_qos())
        self.robot_outputs = RobotOutputs(self, detections=cfg.publish_detections,
                                          collision_objects=cfg.publish_collision_objects)  # fmt: skip

        self.stats = collections.Counter()
        self.latencies_ms: collections.deque[float] = collections.deque(maxlen=200)
        # per pipeline stage (segmentation, tracking, views, network, pose, total), recent frames
        self.stage_ms: collections.defaultdict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=100)
        )
        # arrival times per input topic: a topic arriving slower than the image shows lost or mismatched inputs
        self._arrivals: collections.defaultdict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=100)
        )
        self._started = time.monotonic()
        self._published_ids: set[int] = set()
        self._published: tuple[dict[int, ObjectEstimate], float] = ({}, 0.0)  # the last estimates and their stamp
        self._outputs_cache: dict[int, ObjectOutputs] = {}
        self._keyframes = MarkerKeyframes(cfg.marker_keyframe_every)
        # pipeline and published state: the worker's frames and ~/reset (executor thread) take turns
        self._state_lock = threading.Lock()
        self._reset_wall = -np.inf  # frames completed before this time.time() predate the last reset
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(Trigger, "~/save_meshes", self._on_save_meshes)
        self._previous_done, self._previous_reconstructed = -np.inf, False  # see catching_up
        self._worker = threading.Thread(target=self._work, name="reconstruction-worker", daemon=True)
        self._worker.start()
        self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        watch_dataclass(self, ReconstructionNodeConfig, self._on_config)

    def _on_config(self, config: ReconstructionNodeConfig) -> None:
        """A `ros2 param set` of a mutable parameter: used from the next frame on."""
        with self._state_lock:
            self.config = config
            self.assembler.slop = config.sync_slop_s if config.sync == "approximate" else 0.0
            self._outputs_cache.clear()  # markers and clouds are rebuilt with the new settings

    # ------------------------------------------------------------------ inputs (executor thread)

    def _subscribe_part(self, part: str, msg_type: type, qos) -> None:
        def lost(info, part=part) -> None:
            self.dds_lost[part] += int(info.total_count_change)

        try:
            events = SubscriptionEventCallbacks(message_lost=lost)
            self.create_subscription(msg_type, part, lambda m: self._on_part(part, m), qos, event_callbacks=events)
        except UnsupportedEventTypeError:  # an RMW without sample-lost events: the stamp gaps still count
            self.create_subscription(msg_type, part, lambda m: self._on_part(part, m), qos)

    def _on_part(self, part: str, msg) -> None:
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        self._arrivals[part].append(time.monotonic())
        self.stamp_gaps[part].add(stamp)
        frame = self.assembler.add(part, stamp, msg)
        if frame is not None:
            frame.received = self.now_s()
            self.slot.put(frame)

    def now_s(self) -> float:
        """The node's clock in seconds: ROS time, which is sim time under use_sim_time (a bag's /clock)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_pose(self, stamp: float, T: np.ndarray) -> None:
        self._arrivals["camera_pose"].append(time.monotonic())

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._state_lock:
            self._reset_wall = time.time()
            forgotten = self.pipeline.reset()
            self.stats["resets"] += 1
            self.publish({}, self.get_clock().now().to_msg())
        response.success = True
        response.message = f"forgot {len(forgotten)} objects" + (f" (ids {forgotten})" if forgotten else "")
        self.get_logger().info(f"reset: {response.message}")
        return response

    def _on_save_meshes(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._state_lock:
            (estimates, stamp_s), directory = self._published, self.config.save_meshes_dir
        try:  # estimates are replaced, never changed, so they are written outside the lock
            saved = save_meshes(estimates, directory, frame_id=self.config.world_frame, stamp_s=stamp_s)
        except SaveError as exc:
            response.success, response.message = False, str(exc)
            self.get_logger().warning(f"save_meshes: {exc}")
            return response
        response.success = True
        response.message = f"saved {saved.objects} objects ({saved.meshes} meshes) to {saved.directory}"
        self.get_logger().info(f"save_meshes: {response.message}")
        return response

    # ------------------------------------------------------------------ worker thread

    def _skip(self, reason: str, detail: str) -> None:
        self.stats[f"skipped.{reason}"] += 1
        # Throttled per reason: rclpy throttles per call site, which would hide a second kind of bad input.
        now = time.monotonic()
        if now - self._last_warned.get(reason, -np.inf) >= self.config.log_throttle_s:
            self._last_warned[reason] = now
            self.get_logger().warning(f"frame skipped ({reason}): {detail}")

    def camera_pose(self, frame: Frame) -> np.ndarray | None:
        header = frame.parts["image"].header
        return self.camera_poses.at(header.frame_id, header.stamp, max_gap_s=self.config.pose_tolerance_s,
                                    wait_s=self.config.pose_wait_s)  # fmt: skip

    def _work(self) -> None:
        while rclpy.ok() and not self.slot.closed:
            frame = self.slot.take()
            if frame is None:
                continue
            try:
                self.process_frame(frame)
            except Exception as exc:  # keep serving: a bug in one frame must not kill the node
                if not self.context.ok():  # shutting down (SIGINT) while this frame was being published
                    return
                self.stats["errors"] += 1
                self.get_logger().error(f"frame failed: {exc!r}", throttle_duration_sec=self.config.log_throttle_s)
            self._previous_done = time.time()

    def process_frame(self, frame: Frame) -> None:
        parts = frame.parts
        try:
            intrinsics = conv.camera_info_to_intrinsics(parts["camera_info"])
            rgb = conv.image_to_rgb(parts["image"])
            depth = conv.image_to_depth(parts["depth"]) if "depth" in parts else None
            mask = conv.image_to_mask(parts["mask"]) if "mask" in parts else None
        except ValueError as exc:
            self._skip("bad_input", str(exc))
            return
        expected = (intrinsics.height, intrinsics.width)
        for name, array in (("image", rgb), ("depth", depth), ("mask", mask)):
            if array is not None and array.shape[:2] != expected:
                self._skip("size_mismatch", f"{name} is {array.shape[1]}x{array.shape[0]}, camera_info says "
                                            f"{intrinsics.width}x{intrinsics.height}")  # fmt: skip
                return
        taken = time.time()
        T = self.camera_pose(frame)
        received = frame.received if frame.received is not None else self.now_s()
        lags = {"queue": taken - frame.completed, "pose_wait": time.time() - taken}
        if received > 0.0:  # under use_sim_time the node's clock reads 0 until its first /clock message
            lags["arrival"] = received - frame.stamp
        if T is None:
            self._skip("no_camera_pose", f"no camera pose near stamp {frame.stamp:.3f}")
            return
        # Locked after the pose wait: ~/reset runs on the executor thread, which delivers the poses it waits for.
        with self._state_lock:
            if frame.completed < self._reset_wall:  # taken before ~/reset: its view must not survive it
                self.stats["dropped_before_reset"] += 1
                return
            self._use(frame, rgb, depth, intrinsics, T, mask, lags)

    def _use(self, frame: Frame, rgb, depth, intrinsics, T: np.ndarray, mask, lags: dict[str, float]) -> None:
        """Run the pipeline on a converted frame and publish what changed (under the state lock)."""
        catch_up = catching_up(frame.completed, self._previous_done, self._previous_reconstructed)
        result = self.pipeline.process(rgb, depth, intrinsics, T, frame.stamp, mask=mask, reconstruct=not catch_up)
        self._previous_reconstructed = bool(result.updated) or result.timings.get("network", 0.0) > 0.0
        self.stats["frames_processed"] += 1
        self.stats["frames_catching_up"] += int(catch_up)
        for stage, ms in result.timings.items():
            self.stage_ms[stage].append(ms)
        for stage, seconds in lags.items():
            self.stage_ms[stage].append(1e3 * seconds)
        if result.skipped:
            self._skip(result.skipped, "rejected by the perception pipeline")
            return
        current = set(result.estimates)
        if result.updated or current != self._published_ids:
            start = time.perf_counter()
            self.publish(result.estimates, frame.parts["image"].header.stamp)
            self.stage_ms["publish"].append(1e3 * (time.perf_counter() - start))
            now = self.now_s()
            if now > 0.0:  # the node's clock, as the stamp (0 before the first /clock under use_sim_time)
                self.latencies_ms.append(1e3 * (now - frame.stamp))
            self.stats["updates"] += 1

    # ------------------------------------------------------------------ outputs

    def publish(self, estimates: dict[int, ObjectEstimate], stamp) -> None:
        frame_id = self.config.world_frame
        ids = sorted(estimates)
        outputs = [self._outputs(estimates[i], frame_id, stamp) for i in ids]
        # Serialising mesh markers is the costly part of publishing: an array carries the objects whose
        # estimate changed, and all of them every marker_keyframe_every-th array (see MarkerKeyframes).
        carried, keyframe = self._keyframes.select(estimates)
        markers = MarkerArray()
        for i, out in zip(ids, outputs, strict=True):
            est = out.estimate
            if i not in carried:
                continue
            if out.mesh_marker is not None:
                out.mesh_marker.header.stamp = stamp  # serialised in publish(), so reusing the message is safe
                markers.markers.append(out.mesh_marker)
            top = est.position + np.array([0.0, 0.0, 0.6 * est.scale + 0.03])
            label = f"object {i}: {est.num_views} views"
            markers.markers.append(
                conv.text_marker(label, top, marker_id=i, ns="labels", frame_id=frame_id, stamp=stamp)
            )
        retired = sorted(self._published_ids - set(ids))
        for i in sorted(set(ids) - self._published_ids):
            est = estimates[i]
            self.get_logger().info(f"object {i}: new at {np.round(est.position, 3).tolist()} ({est.num_views} views)")
        for i in retired:
            self.get_logger().info(f"object {i}: gone (its track was retired or merged)")
            self._outputs_cache.pop(i, None)
        self._keyframes.retire(retired)
        for ns in ("objects", "labels"):
            markers.markers.extend(conv.delete_markers(retired, ns=ns, frame_id=frame_id))
        self._published_ids = set(ids)
        self._published = (dict(estimates), conv.stamp_to_seconds(stamp))
        if markers.markers or keyframe:
            self.pub_markers.publish(markers)
            self._keyframes.published()

        poses = [object_matrix(estimates[i]) for i in ids]
        self.robot_outputs.publish_ids(ids)  # objects/ids names the poses that follow, in their order
        self.pub_poses.publish(conv.matrices_to_pose_array(np.array(poses).reshape(-1, 4, 4), stamp=stamp,
                                                           frame_id=frame_id))  # fmt: skip
        self.tf_publisher.send_many(
            [(T, frame_id, object_name(i)) for i, T in zip(ids, poses, strict=True)], stamp=stamp
        )
        self.robot_outputs.publish(estimates, {i: out.mesh for i, out in zip(ids, outputs, strict=True)},
                                   stamp=stamp, frame_id=frame_id)  # fmt: skip
        if self.config.publish_error_cloud:
            cloud = np.concatenate([out.cloud for out in outputs]) if outputs else np.empty(0, OBJECT_CLOUD_DTYPE)
            self.pub_error.publish(conv.structured_to_pointcloud2(cloud, stamp=stamp, frame_id=frame_id))

    def _outputs(self, est: ObjectEstimate, frame_id: str, stamp) -> ObjectOutputs:
        """The estimate's mesh marker (decimated) and error cloud, built once per estimate."""
        cached = self._outputs_cache.get(est.id)
        if cached is None or cached.estimate is not est:  # the pipeline makes a new estimate on each update
            marker, mesh = None, None
            if len(est.triangles):
                vertices, triangles = simplify_triangles(est.vertices, est.triangles,
                                                         self.config.marker_max_triangles)  # fmt: skip
                mesh = (vertices, triangles)
                marker = conv.mesh_marker(vertices, triangles, marker_id=est.id, ns="objects", frame_id=frame_id,
                                          stamp=stamp, color=conv.color_for_id(est.id))  # fmt: skip
            cloud = object_cloud(est) if self.config.publish_error_cloud else np.empty(0, OBJECT_CLOUD_DTYPE)
            self._outputs_cache[est.id] = cached = ObjectOutputs(est, marker, cloud, mesh)
        return cached

    def _publish_diagnostics(self) -> None:
        rates = {part: arrival_rate(times, time.monotonic()) for part, times in list(self._arrivals.items())}
        rate = rates.get("image", 0.0)
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        skipped = sum(v for k, v in self.stats.items() if k.startswith("skipped."))
        values = {
            "backend": self.backend.name,
            "input_rate_hz": f"{rate:.2f}",
            "frames_processed": str(self.stats["frames_processed"]),
            "frames_dropped": str(self.slot.dropped),
            # frames that skipped their reconstruction turn because they arrived during one (catching_up)
            "frames_catching_up": str(self.stats["frames_catching_up"]),
            "frames_skipped": str(skipped),
            "latency_ms_p50": f"{np.percentile(lat, 50):.1f}",
            "latency_ms_p95": f"{np.percentile(lat, 95):.1f}",
            "objects": str(len(self._published_ids)),
            "errors": str(self.stats["errors"]),
            "resets": str(self.stats["resets"]),
        }
        if getattr(self.backend, "providers", None):
            values["providers"] = ", ".join(self.backend.providers)
        values.update({f"input_hz.{part}": f"{r:.2f}" for part, r in rates.items()})
        # frames lost before they reached the node (gaps in the stamps) and samples DDS reported lost
        values.update({f"wire_lost.{part}": str(g.lost) for part, g in self.stamp_gaps.items()})
        values.update({f"dds_lost.{part}": str(n) for part, n in self.dds_lost.items()})
        values.update({k: str(v) for k, v in self.stats.items() if k.startswith("skipped.")})
        counts = dict(self.pipeline.event_counts)  # evidence frames, resets (objects moved), rejected frames
        values.update({f"evidence.{k.removeprefix('evidence_')}": str(v) for k, v in counts.items()
                       if k.startswith("evidence_")})  # fmt: skip
        values.update({f"stage_ms.{k}": f"{np.mean(list(v)):.1f}" for k, v in list(self.stage_ms.items()) if v})
        stale = self.stale_inputs(values)
        level = DiagnosticStatus.OK if self.stats["errors"] == 0 and not stale else DiagnosticStatus.WARN
        message = f"{len(self._published_ids)} objects, {rate:.1f} Hz in"
        if stale:
            message = f"stale input: {', '.join(stale)}; " + message
        status = DiagnosticStatus(level=level, name="vtr_perception: reconstruction", hardware_id=self.backend.name,
                                  message=message)  # fmt: skip
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(msg)

    def stale_inputs(self, values: dict[str, str]) -> list[str]:
        """Required inputs silent for ``stale_input_s`` (never heard: since the start); ages go into ``values``."""
        now, stale = time.monotonic(), []
        for part in self.assembler.required:
            times = self._arrivals.get(part)
            age = now - (times[-1] if times else self._started)
            values[f"input_age_s.{part}"] = f"{age:.2f}" if times else "never"
            if age > self.config.stale_input_s:
                stale.append(part)
        return stale

    def destroy_node(self) -> None:
        if hasattr(self, "_worker"):  # absent when the constructor failed (e.g. no usable model)
            self.slot.close()
            self.camera_poses.close()
            if self._worker.is_alive():
                self._worker.join(timeout=0.5)  # a daemon: one slow frame must not hold the exit
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(ReconstructionNode, "reconstruction_node", args)


if __name__ == "__main__":
    sys.exit(main())
