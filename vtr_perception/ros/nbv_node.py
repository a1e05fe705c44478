"""nbv_node: objects/error + the camera pose in, next_best_view out.

Rebuilds each object's occupancy and error grids from the objects/error cloud (one point
per voxel in (i, j, k) order, with an ``id`` field), picks the target object (a parameter,
or the one with the most estimated error), and asks the plain NextBestViewPlanner for
the view that shows the most of that error. Publishes the best pose, the ranked
candidates and arrows coloured by score for rviz.

Views taken are kept per object (nbv.taken_views): when an object's ``views`` count in the
cloud grows, the camera pose of that moment is recorded as a view of that object, whichever
object is the target. A suggested view the camera reached counts as taken for its target even
when the reconstruction did not use the frame (a near-duplicate of a view it has, say, that the
taken record missed): the node never sends the camera to the same place twice, where the same
grids would give the same answer again. A target that the latest cloud lacks (an object
just created, or one forgotten by a reset) gets no answer until a cloud has it: planning
for another object instead would send the camera to look at that one. An empty cloud (the
reconstruction node was reset) clears the grids. The error estimate is the planner's ``estimator`` over the cloud's
fields: ``error_head`` (the cloud's error), ``entropy`` (of its occupancy) or ``information_gain`` (the cloud's
error, the posterior uncertainty, with its per-voxel ``state``).

The camera pose comes from the same source as the reconstruction node's (ros/camera_pose.py):
tf2 (world_frame -> ``camera_frame``, read every ``tf_poll_s``) when tf2_ros is importable and
``camera_frame`` is set, the ``camera_pose`` topic otherwise.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Int32
from visualization_msgs.msg import MarkerArray

from vtr_perception.geometry.cameras import rotation_angle_deg
from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.nbv.object_grid import ObjectGrid, grids_from_cloud, obstacles_besides
from vtr_perception.nbv.planner import NextBestViewPlanner, PlanResult
from vtr_perception.nbv.taken_views import TakenViews
from vtr_perception.ros import conversions as conv
from vtr_perception.ros.camera_pose import CameraPoseSource
from vtr_perception.ros.node_main import run_node
from vtr_perception.ros.parameters import declare_from_dataclass, watch_dataclass
from vtr_perception.ros.qos import latched_qos, reliable_qos

# error estimates computable from the objects/error cloud
CLOUD_ESTIMATORS = ("error_head", "entropy", "information_gain")
# parameters `ros2 param set` changes at run time (and every planner.* one); the others are read-only
MUTABLE_PARAMETERS = ("target_id", "max_arrows", "goal_reached_m", "goal_reached_deg", "log_throttle_s")


def check_cloud_estimator(config: PlannerConfig) -> None:
    if config.estimator not in CLOUD_ESTIMATORS:
        raise ValueError(
            f"planner.estimator {config.estimator!r} needs more than the objects/error cloud "
            f"carries; nbv_node supports {', '.join(CLOUD_ESTIMATORS)}"
        )


@dataclass
class NbvNodeConfig:
    """ROS-side options of the next-best-view node (the planner's are under `planner.`)."""

    world_frame: str = field(default="world", metadata={"help": "frame of the published poses"})
    pose_source: Literal["auto", "tf", "topic"] = field(
        default="auto",
        metadata={"help": "camera pose from tf2 (world_frame -> camera_frame, when importable), the camera_pose "
                          "topic, or auto: as reconstruction_node takes it"},
    )  # fmt: skip
    camera_frame: str = field(
        default="", metadata={"help": "the camera's optical frame for tf2 lookups; empty: the camera_pose topic only"}
    )
    tf_poll_s: float = field(default=0.1, metadata={"help": "how often the camera pose is read from tf2, seconds"})
    target_id: int = field(default=-1, metadata={"help": "object to plan for; -1 = the one with most estimated error"})
    max_arrows: int = field(default=24, metadata={"help": "candidate arrows shown in rviz (best first)"})
    taken_view_min_angle_deg: float = field(
        default=10.0, metadata={"help": "camera poses closer than this to a recorded view are not recorded again"}
    )
    goal_reached_m: float = field(
        default=0.02, metadata={"help": "camera within this distance (m) of a suggested view has been there"}
    )
    goal_reached_deg: float = field(
        default=5.0, metadata={"help": "camera within this angle (deg) of a suggested view has been there"}
    )
    log_throttle_s: float = field(default=5.0, metadata={"help": "minimum seconds between repeated warnings"})


class NbvNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("nbv", **kwargs)
        self.config = declare_from_dataclass(self, NbvNodeConfig, mutable=MUTABLE_PARAMETERS)
        if self.config.pose_source == "tf" and not self.config.camera_frame:
            raise ValueError("pose_source 'tf' needs camera_frame (the camera's optical frame) for the tf2 lookup")
        self.planner_config = declare_from_dataclass(self, PlannerConfig, prefix="planner.")
        check_cloud_estimator(self.planner_config)
        self.planner = NextBestViewPlanner(self.planner_config)
        self._lock = threading.Lock()
        self.current_pose: np.ndarray | None = None
        self.target_id = self.config.target_id
        self._last_grids: tuple[dict[int, ObjectGrid], object] | None = None
        self.taken = TakenViews(same_pose_angle_deg=self.config.taken_view_min_angle_deg)
        # suggested views the camera reached, per target: never suggested again
        self.visited = TakenViews(same_pose_angle_deg=self.config.taken_view_min_angle_deg)
        self._goal: tuple[int, np.ndarray] | None = None  # the last suggestion (target, pose), until reached
        self.finished: set[int] = set()  # objects the planner stopped on (max_views, stop_gain)
        self.last_result: PlanResult | None = None
        self.plans = 0

        # transient local: the reconstruction's last cloud arrives even when it was published before this node matched
        self.create_subscription(PointCloud2, "objects/error", self._on_error, latched_qos(depth=2))
        self.camera_poses = CameraPoseSource(self, world_frame=self.config.world_frame, source=self.config.pose_source,
                                             qos=reliable_qos(depth=10), on_pose=self._on_pose,
                                             on_bad=self._on_bad_pose)  # fmt: skip
        if self.camera_poses.tf_available and self.config.camera_frame:
            self.create_timer(self.config.tf_poll_s, self.poll_tf)
        self.create_subscription(Int32, "nbv/target", self._on_target, reliable_qos())
        self.pub_goal = self.create_publisher(PoseStamped, "next_best_view", reliable_qos())
        self.pub_candidates = self.create_publisher(PoseArray, "nbv/candidates", reliable_qos())
        self.pub_markers = self.create_publisher(MarkerArray, "nbv/markers", latched_qos())
        watch_dataclass(self, NbvNodeConfig, self._on_config)
        watch_dataclass(self, PlannerConfig, self._on_planner_config, prefix="planner.", check=check_cloud_estimator)
        tf_too = self.camera_poses.tf_available and self.config.camera_frame
        pose_from = "tf2 and camera_pose" if tf_too else "camera_pose"
        self.get_logger().info(f"planner: estimator {self.planner_config.estimator}, camera pose from {pose_from}; "
                               "planning on every objects/error")  # fmt: skip

    def _on_config(self, config: NbvNodeConfig) -> None:
        with self._lock:
            if config.target_id != self.config.target_id:
                self.target_id = config.target_id
            self.config = config

    def _on_planner_config(self, config: PlannerConfig) -> None:
        """A `ros2 param set planner.*`: the next plan uses the new planner."""
        self.planner_config, self.planner = config, NextBestViewPlanner(config)

    def _on_bad_pose(self, reason: str) -> None:
        self.get_logger().warning(f"ignoring camera_pose: {reason}", throttle_duration_sec=self.config.log_throttle_s)

    def poll_tf(self) -> None:
        """The camera pose from tf2 (world_frame -> camera_frame), when tf2 knows it."""
        T = self.camera_poses.latest(self.config.camera_frame)
        if T is not None:
            self._on_pose(None, T)

    def _on_pose(self, stamp: float | None, T: np.ndarray) -> None:
        """The camera is at ``T`` (from the camera_pose topic or tf2)."""
        with self._lock:
            self.current_pose = T
            if self._goal is not None and self._reached(T, self._goal[1]):
                self.visited.record(*self._goal)
                self._goal = None

    def _reached(self, T: np.ndarray, goal: np.ndarray) -> bool:
        return bool(np.linalg.norm(T[:3, 3] - goal[:3, 3]) <= self.config.goal_reached_m
                    and rotation_angle_deg(T, goal) <= self.config.goal_reached_deg)  # fmt: skip

    def _on_target(self, msg: Int32) -> None:
        with self._lock:
            self.target_id = int(msg.data)
            last = self._last_grids
        self.get_logger().info(f"planning for object {msg.data}" if msg.data >= 0 else "planning for the worst object")
        if last is not None:  # answer at once from the latest reconstruction, without waiting for a new one
            self._plan(*last)

    def _on_error(self, msg: PointCloud2) -> None:
        try:
            grids = grids_from_cloud(conv.pointcloud2_to_structured(msg))
        except ValueError as exc:
            self.get_logger().warning(
                f"ignoring objects/error: {exc}", throttle_duration_sec=self.config.log_throttle_s
            )
            return
        with self._lock:
            self._last_grids = (grids, msg.header.stamp) if grids else None
            if not grids:  # the reconstruction was reset: every object starts over
                self.finished.clear()
            if grids:
                self.taken.update({i: g.views for i, g in grids.items()}, self.current_pose)
        if grids:
            self._plan(grids, msg.header.stamp)

    def _target_in(self, grids: dict[int, ObjectGrid]) -> int | None:
        """The object to plan for: the requested one (None while this cloud lacks it), else the worst open one.

        An object is open until the planner stopped on it (``max_views``, ``stop_gain``): without this the
        worst object stayed the target after its last view, and the camera never went to the others."""
        if self.target_id < 0:
            open_ids = [i for i in grids if i not in self.finished and grids[i].views < self.planner.config.max_views]
            return max(open_ids, key=lambda i: float(grids[i].error.sum())) if open_ids else None
        return self.target_id if self.target_id in grids else None

    def _plan(self, grids: dict[int, ObjectGrid], stamp) -> None:
        with self._lock:
            current = None if self.current_pose is None else self.current_pose.copy()
            target = self._target_in(grids)
            # Where the camera is counts as taken too: nbv/target can arrive before the cloud that
            # records the current view, and the same grids would then give the same answer again.
            taken = ([] if target is None else self.taken.poses(target) + self.visited.poses(target)
                     + ([] if current is None else [current]))  # fmt: skip
        if target is None:
            what = (f"object {self.target_id} is not in objects/error (yet): no plan for it" if self.target_id >= 0
                    else f"every object is done ({len(grids)} in objects/error): no plan")  # fmt: skip
            self.get_logger().info(what, throttle_duration_sec=self.config.log_throttle_s)
            return
        grid = grids[target]
        obstacles = obstacles_besides(grids, target, self.planner.config.occupancy_threshold)
        result = self.planner.plan_from_outputs({"occupancy": grid.occupancy, "error": grid.error, "state": grid.state},
                                                center=grid.center, extent=grid.extent, current_pose=current,
                                                taken_poses=taken, obstacles=obstacles, views=grid.views)  # fmt: skip
        self.last_result = result
        self.plans += 1
        self.publish(result, stamp, target)

    def publish(self, result: PlanResult, stamp, target: int) -> None:
        frame_id = self.config.world_frame
        self.pub_candidates.publish(conv.matrices_to_pose_array(result.poses, stamp=stamp, frame_id=frame_id))
        if result.best_pose is None:
            self.get_logger().warning(
                f"object {target}: {result.reason}", throttle_duration_sec=self.config.log_throttle_s
            )
            with self._lock:  # nothing allowed for it: the worst-object choice moves on to another
                self.finished.add(target)
            return
        markers = MarkerArray(markers=[conv.delete_all_markers(ns="nbv", frame_id=frame_id)])
        n = min(self.config.max_arrows, len(result.poses))
        lo, hi = (float(result.scores[:n].min()), float(result.scores[:n].max())) if n else (0.0, 1.0)
        for k in range(n):
            T = result.poses[k]
            start, end = T[:3, 3], T[:3, 3] + 0.08 * T[:3, 2]
            s = (float(result.scores[k]) - lo) / (hi - lo) if hi > lo else 1.0
            markers.markers.append(conv.arrow_marker(start, end, marker_id=k, ns="nbv", frame_id=frame_id, stamp=stamp,
                                                     color=(s, 0.2, 1.0 - s, 1.0)))  # fmt: skip
        self.pub_markers.publish(markers)
        if not result.stop:
            with self._lock:
                self._goal = (target, np.asarray(result.best_pose, dtype=np.float64).copy())
            self.pub_goal.publish(conv.matrix_to_pose_stamped(result.best_pose, stamp=stamp, frame_id=frame_id))
        else:
            with self._lock:
                new = target not in self.finished
                self.finished.add(target)
            if new:
                self.get_logger().info(f"object {target}: stop ({result.reason})")


def main(args: list[str] | None = None) -> int:
    return run_node(NbvNode, "nbv_node", args)


if __name__ == "__main__":
    sys.exit(main())
