"""sim_camera_node: a simulated RGB-D camera over a table-top scene, so the loop runs without a robot.

Renders the scene (vtr_perception.sim.camera over vtr_perception.sim.scenes) with the Open3D ray-casting renderer and
publishes image (rgb8), depth (32FC1, metres), camera_info, camera_pose (PoseStamped)
and, when tf2_ros is importable, the camera TF. It moves to the last ``next_best_view``
it receives ("follow" mode) or circles the table ("orbit" mode).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from vtr_perception.ros import conversions as conv
from vtr_perception.ros.node_main import run_node
from vtr_perception.ros.parameters import declare_from_dataclass, watch_dataclass
from vtr_perception.ros.qos import image_qos, reliable_qos
from vtr_perception.ros.tf import TfPublisher
from vtr_perception.sim.camera import SimCamera, SimCameraConfig


def publish_spaced(messages: list[tuple[Any, Any]], spacing_s: float, ok: Callable[[], bool] = lambda: True) -> None:
    """Publish (publisher, message) pairs in order, ``spacing_s`` apart (the image last, the pose first).

    Stops early once ``ok()`` is false (the context shutting down between two messages)."""
    for k, (publisher, msg) in enumerate(messages):
        if k and spacing_s > 0.0:
            time.sleep(spacing_s)
        if not ok():
            return
        publisher.publish(msg)


# parameters `ros2 param set` changes at run time; the others (scene, image size, rate, frames) are read-only
MUTABLE_PARAMETERS = ("mode", "orbit_speed_deg", "publish_spacing_s")


class SimCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_camera", **kwargs)
        self.config = declare_from_dataclass(self, SimCameraConfig, mutable=MUTABLE_PARAMETERS)
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
        watch_dataclass(self, SimCameraConfig, self._on_config)

    def _on_config(self, config: SimCameraConfig) -> None:
        with self._lock:
            self.config = self.camera.config = config

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
            frame = self.camera.render()  # with the configured sensor's depth noise, fresh in every frame
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
            objects_only = self.camera.scene.object_ids(frame.mask)
            mask = conv.numpy_to_image(objects_only, "32SC1", stamp=stamp, frame_id=cam_frame)
            messages.append((self.pub_mask, mask))
        messages.append((self.pub_image, conv.numpy_to_image(frame.rgb, "rgb8", stamp=stamp, frame_id=cam_frame)))
        publish_spaced(messages, self.config.publish_spacing_s, self.context.ok)
        self.frames += 1


def main(args: list[str] | None = None) -> int:
    return run_node(SimCameraNode, "sim_camera_node", args)


if __name__ == "__main__":
    sys.exit(main())
