"""sim_camera_node: a simulated RGB-D camera over a table-top scene, so the loop runs without a robot.

Renders the scene (vtr_perception.data.scenes) with the Open3D ray-casting renderer and
publishes image (rgb8), depth (32FC1, metres), camera_info, camera_pose (PoseStamped)
and, when tf2_ros is importable, the camera TF. It moves to the last ``next_best_view``
it receives ("follow" mode) or circles the table ("orbit" mode).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from vtr_perception.geometry import cameras
from vtr_perception.ros import conversions as conv
from vtr_perception.ros.node_main import run_node
from vtr_perception.ros.parameters import declare_from_dataclass
from vtr_perception.ros.qos import image_qos, reliable_qos
from vtr_perception.ros.tf import TfPublisher


@dataclass
class SimCameraConfig:
    """The simulated scene and camera."""

    source: str = field(
        default="pybullet",
        metadata={"help": "mesh source spec of the objects: pybullet (pybullet_data random objects), procedural, "
                          "meshdir:PATH, ... (data layer)"},
    )  # fmt: skip
    num_objects: int = field(default=3, metadata={"help": "objects on the table", "range": (1, 8)})
    split: str = field(default="test", metadata={"help": "split the objects are drawn from (held out from training)"})
    seed: int = field(default=0, metadata={"help": "scene seed: object choice, sizes, placement"})
    object_keys: list[str] = field(default_factory=list, metadata={"help": "explicit object keys (overrides split)"})
    width: int = field(default=320, metadata={"help": "image width, pixels", "range": (16, 4096)})
    height: int = field(default=240, metadata={"help": "image height, pixels", "range": (16, 4096)})
    fov_deg: float = field(default=60.0, metadata={"help": "horizontal field of view, degrees", "range": (10.0, 170.0)})
    rate_hz: float = field(default=5.0, metadata={"help": "frames per second", "range": (0.1, 60.0)})
    mode: Literal["follow", "orbit"] = field(
        default="follow", metadata={"help": "follow: move to next_best_view; orbit: circle the table"}
    )
    start_azimuth_deg: float = field(default=200.0, metadata={"help": "initial azimuth around the first object"})
    start_elevation_deg: float = field(default=30.0, metadata={"help": "initial elevation, degrees"})
    distance: float = field(default=0.6, metadata={"help": "initial / orbit distance to the target, metres"})
    orbit_speed_deg: float = field(default=10.0, metadata={"help": "orbit mode: degrees of azimuth per frame"})
    world_frame: str = field(default="world", metadata={"help": "frame of poses and TF parent"})
    camera_frame: str = field(default="sim_camera_optical", metadata={"help": "optical frame id of the images"})
    publish_mask: bool = field(default=False, metadata={"help": "also publish the true instance mask (32SC1)"})
    publish_spacing_s: float = field(
        default=0.005,
        metadata={"help": "pause between a frame's pose, camera_info, depth and image (s): sent as one ~0.5 MB "
                          "burst, the small messages can be lost on Fast DDS over UDP; raise it if subscribers "
                          "see fewer depth or pose samples than images (0: one burst)",
                  "range": (0.0, 0.05)},
    )  # fmt: skip


def publish_spaced(messages: list[tuple[Any, Any]], spacing_s: float) -> None:
    """Publish (publisher, message) pairs in order, ``spacing_s`` apart (the image last, the pose first)."""
    for k, (publisher, msg) in enumerate(messages):
        if k and spacing_s > 0.0:
            time.sleep(spacing_s)
        publisher.publish(msg)


class SimCamera:
    """The plain simulated camera: a scene, intrinsics and a pose; renders frames."""

    def __init__(self, config: SimCameraConfig) -> None:
        from vtr_perception.data.scenes import make_tabletop_scene
        from vtr_perception.geometry.renderer import Renderer

        self.config = config
        self.scene = make_tabletop_scene(
            config.source,
            num_objects=config.num_objects,
            split=config.split,
            seed=config.seed,
            object_keys=list(config.object_keys) or None,
        )
        self.renderer = Renderer(self.scene.meshes())
        self.intrinsics = cameras.Intrinsics.from_fov(config.width, config.height, config.fov_deg)
        target = self.scene.objects[0].center
        self.orbit_azimuth = config.start_azimuth_deg
        self.T_world_camera = cameras.camera_from_angles(
            config.start_azimuth_deg, config.start_elevation_deg, config.distance, target=target
        )

    def orbit_step(self) -> None:
        self.orbit_azimuth = (self.orbit_azimuth + self.config.orbit_speed_deg) % 360.0
        self.T_world_camera = cameras.camera_from_angles(
            self.orbit_azimuth, self.config.start_elevation_deg, self.config.distance + 0.2, target=np.zeros(3)
        )

    def move_to(self, T_world_camera: np.ndarray) -> None:
        T = np.asarray(T_world_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError("camera pose must be a finite 4x4 transform")
        self.T_world_camera = T

    def render(self):
        return self.renderer.render(self.intrinsics, self.T_world_camera)


class SimCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_camera", **kwargs)
        self.config = declare_from_dataclass(self, SimCameraConfig)
        self.camera = SimCamera(self.config)
        self._lock = threading.Lock()
        qos = image_qos("reliable")
        self.pub_image = self.create_publisher(Image, "image", qos)
        self.pub_depth = self.create_publisher(Image, "depth", qos)
        self.pub_info = self.create_publisher(CameraInfo, "camera_info", qos)
        self.pub_mask = self.create_publisher(Image, "mask", qos) if self.config.publish_mask else None
        self.pub_pose = self.create_publisher(PoseStamped, "camera_pose", reliable_qos())
        self.tf = TfPublisher(self)
        self.create_subscription(PoseStamped, "next_best_view", self._on_goal, reliable_qos())
        self.frames = 0
        self.create_timer(1.0 / self.config.rate_hz, self._tick)
        names = ", ".join(f"{o.key} ({o.category})" for o in self.camera.scene.objects)
        self.get_logger().info(f"simulating {len(self.camera.scene.objects)} objects: {names}")

    def _on_goal(self, msg: PoseStamped) -> None:
        if self.config.mode != "follow":
            return
        try:
            T = conv.pose_to_matrix(msg)
            with self._lock:
                self.camera.move_to(T)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring next_best_view: {exc}", throttle_duration_sec=5.0)

    def _tick(self) -> None:
        with self._lock:
            if self.config.mode == "orbit":
                self.camera.orbit_step()
            T = self.camera.T_world_camera.copy()
            frame = self.camera.renderer.render(self.camera.intrinsics, T)
        stamp = self.get_clock().now().to_msg()
        cam_frame = self.config.camera_frame
        depth = np.where(np.isfinite(frame.depth), frame.depth, np.nan).astype(np.float32)
        self.tf.send(T, parent=self.config.world_frame, child=cam_frame, stamp=stamp)
        messages = [
            (self.pub_pose, conv.matrix_to_pose_stamped(T, stamp=stamp, frame_id=self.config.world_frame)),
            (self.pub_info, conv.intrinsics_to_camera_info(self.camera.intrinsics, stamp=stamp, frame_id=cam_frame)),
            (self.pub_depth, conv.numpy_to_image(depth, "32FC1", stamp=stamp, frame_id=cam_frame)),
        ]
        if self.pub_mask is not None:
            objects_only = np.where(frame.mask >= 2, frame.mask - 1, 0).astype(np.int32)
            mask = conv.numpy_to_image(objects_only, "32SC1", stamp=stamp, frame_id=cam_frame)
            messages.append((self.pub_mask, mask))
        messages.append((self.pub_image, conv.numpy_to_image(frame.rgb, "rgb8", stamp=stamp, frame_id=cam_frame)))
        publish_spaced(messages, self.config.publish_spacing_s)
        self.frames += 1


def main(args: list[str] | None = None) -> int:
    return run_node(SimCameraNode, "sim_camera_node", args)


if __name__ == "__main__":
    sys.exit(main())
