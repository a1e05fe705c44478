"""The demo's conductor: steps the closed loop camera -> reconstruction -> nbv -> camera.

It sits between nbv_node and sim_camera_node: nbv_node publishes ``next_best_view``, the
monitor forwards the suggestion to the camera (``camera_goal``) once the previous view
has been reconstructed, and measures each step against the simulated ground truth. In a
"random" run it sends random views instead, for comparison.

Each object's run starts from nothing: once the camera is at the object's initial view the
monitor calls ``reconstruction/reset``, so step 1 is the reconstruction from that one view and
not one that already holds views from the runs of its neighbours (``reset_per_object=False``
keeps them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Int32
from std_srvs.srv import Trigger

from vtr_perception.geometry import cameras
from vtr_perception.geometry.metrics import grid_metrics
from vtr_perception.nbv.object_grid import ObjectGrid, grids_from_cloud
from vtr_perception.nbv.taken_views import TakenViews
from vtr_perception.ros import conversions as conv
from vtr_perception.ros.qos import reliable_qos
from vtr_perception.sim.loop import FRAMES_PER_VIEW
from vtr_perception.sim.object_views import initial_view, random_view, track_of
from vtr_perception.sim.scenes import SceneObject, TableTopScene
from vtr_perception.sim.truth import true_grid

ARRIVED_M = 0.01  # the camera is at its goal when it reports a position this close to it
NODE_CHECK_S = 0.25  # how often a wait asks whether a node process died
# How often a wait sends its request again while it goes unanswered: a message published before DDS has
# matched the other node's subscription is lost, and on a loaded machine that matching can take seconds after
# the monitor starts (the camera then never moved to an object's initial view within 30 s). The camera answers
# a goal within a frame; a plan or a reset can take seconds under load, and each repeat costs one more.
RESEND_S = {"camera goal": 3.0, "nbv/target": 10.0, "reconstruction/reset": 10.0}


class DemoError(RuntimeError):
    """The closed loop cannot go on (a node missing or silent); one line for the user."""


@dataclass
class StepRecord:
    views: int
    iou: float
    fscore: float
    translation_cm: float
    camera_pose: list[list[float]]
    latency_ms: float
    planner: str


@dataclass
class ObjectRun:
    object_index: int
    track_id: int | None = None
    steps: list[StepRecord] = field(default_factory=list)
    occupancy_first: np.ndarray | None = None
    occupancy_last: np.ndarray | None = None
    grid_last: ObjectGrid | None = None
    position_last: list[float] | None = None


def looks_at(T_world_camera: np.ndarray, point: np.ndarray, tolerance_m: float) -> bool:
    """Whether ``point`` lies in front of the camera within ``tolerance_m`` of its optical axis (+z)."""
    v = np.asarray(point, dtype=np.float64) - T_world_camera[:3, 3]
    axis = T_world_camera[:3, 2]
    along = float(v @ axis)
    return along > 0 and float(np.linalg.norm(v - along * axis)) <= tolerance_m


class DemoMonitor(Node):
    """Subscribes the loop's outputs; ``run_object`` drives one object for a number of steps."""

    def __init__(self, scene: TableTopScene, *, planner: str, seed: int, distance: float = 0.5,
                 elevation_deg: tuple[float, float] = (10.0, 80.0), min_angle_deg: float = 0.0,
                 view_distances: Sequence[float] = (), frames_per_view: int = FRAMES_PER_VIEW,
                 reset_per_object: bool = True, log: Callable[[str], None] = print,
                 node_failure: Callable[[], str | None] = lambda: None, **kwargs) -> None:  # fmt: skip
        """``node_failure`` says which node process died (one line), or None while all run; every wait asks it."""
        super().__init__("demo_monitor", **kwargs)
        self.node_failure = node_failure
        self.scene, self.planner, self.distance, self.log = scene, planner, distance, log
        # the NBV planner's limits and distances, so random views are drawn from the set it chooses from
        self.elevation_deg, self.min_angle_deg = elevation_deg, min_angle_deg
        self.view_distances = tuple(view_distances) or (distance,)
        self.frames_per_view = frames_per_view
        self.reset_per_object = reset_per_object
        self.empty_clouds = 0  # objects/error clouds without objects (the reconstruction node was reset)
        self.resent: dict[str, int] = {}  # requests sent again because they went unanswered (see RESEND_S)
        self.frames_at_goal = 0
        self.taken: list[np.ndarray] = []  # camera poses moved to for the current object
        # views each track's reconstruction has used (neighbours' runs included), as nbv_node keeps them
        self.used_views = TakenViews()
        self.seed = seed
        self.rng = np.random.default_rng(seed)  # random views; initial views have their own (initial_view)
        self._cond = threading.Condition()
        self.grids: dict[int, ObjectGrid] = {}
        self.grid_stamp = 0.0
        self.updates = 0
        self.suggestion: tuple[float, np.ndarray] | None = None
        self.camera_pose: np.ndarray | None = None
        self.view_counts: dict[int, int] = {}
        self.positions: dict[int, np.ndarray] = {}
        self.positions_stamp = -1.0  # the grid_stamp the positions belong to
        self._poses_by_stamp: dict[float, np.ndarray] = {}
        self.create_subscription(PoseArray, "objects/poses", self._on_poses, reliable_qos())
        # deep enough that the empty cloud of a reset is not pushed out by the updates right after it
        self.create_subscription(PointCloud2, "objects/error", self._on_error, reliable_qos(depth=10))
        self.create_subscription(PoseStamped, "next_best_view", self._on_nbv, reliable_qos())
        self.create_subscription(PoseStamped, "camera_pose", self._on_pose, reliable_qos())
        self.pub_goal = self.create_publisher(PoseStamped, "camera_goal", reliable_qos())
        self.pub_target = self.create_publisher(Int32, "nbv/target", reliable_qos())
        self.reset_client = self.create_client(Trigger, "reconstruction/reset")

    # callbacks (executor thread)
    def _on_poses(self, msg: PoseArray) -> None:
        with self._cond:
            stamp = conv.stamp_to_seconds(msg.header.stamp)
            self._poses_by_stamp[stamp] = conv.pose_array_to_matrices(msg)
            while len(self._poses_by_stamp) > 20:
                self._poses_by_stamp.pop(next(iter(self._poses_by_stamp)))
            if stamp == self.grid_stamp:  # the error cloud of this update came first
                self._join_positions()

    def _on_error(self, msg: PointCloud2) -> None:
        try:
            grids = grids_from_cloud(conv.pointcloud2_to_structured(msg))
        except ValueError:
            return
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        views = {i: g.views for i, g in grids.items()}
        with self._cond:
            self.grids, self.grid_stamp = grids, stamp
            self.view_counts = views
            self.used_views.update(views, self.camera_pose)
            self._join_positions()
            self.updates += 1
            self.empty_clouds += not grids
            self._cond.notify_all()

    def _join_positions(self) -> None:
        """Object positions of the latest update: its objects/poses (ordered by id) matched to its grids."""
        poses = self._poses_by_stamp.get(self.grid_stamp)
        if poses is not None and len(poses) == len(self.grids):
            self.positions = {i: T[:3, 3] for i, T in zip(sorted(self.grids), poses, strict=True)}
            self.positions_stamp = self.grid_stamp
            self._cond.notify_all()

    def _on_nbv(self, msg: PoseStamped) -> None:
        with self._cond:
            self.suggestion = (time.monotonic(), conv.pose_to_matrix(msg))
            self._cond.notify_all()

    def _on_pose(self, msg: PoseStamped) -> None:
        with self._cond:
            self.camera_pose = conv.pose_to_matrix(msg)
            if self._at_goal(self.camera_pose):
                self.frames_at_goal += 1
            # always: the start waits for the first pose, and nothing else may wake it (a camera that
            # stands still makes no new reconstruction); it slept out its 60 s in half the demo runs
            self._cond.notify_all()

    # driving (main thread)
    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` or ``timeout``; a DemoError as soon as a node process is found dead."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                if (failure := self.node_failure()) is not None:
                    raise DemoError(failure)
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, NODE_CHECK_S))
            return True

    def _wait_resending(self, predicate: Callable[[], bool], timeout: float, what: str,
                        resend: Callable[[], bool | None]) -> bool:  # fmt: skip
        """``_wait``, calling ``resend()`` every ``RESEND_S[what]`` seconds while ``predicate()`` is false
        (``resend`` returns False when it sent nothing); the repeats are counted in ``self.resent``."""
        deadline = time.monotonic() + timeout
        while not self._wait(predicate, min(RESEND_S[what], max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return False
            if resend() is not False:
                self.resent[what] = self.resent.get(what, 0) + 1
        return True

    def _move(self, T: np.ndarray) -> None:
        with self._cond:
            self.frames_at_goal = 0
            self.taken.append(np.asarray(T, dtype=np.float64))
        self.pub_goal.publish(conv.matrix_to_pose_stamped(T, frame_id="world"))

    def _resend_goal(self) -> bool:
        """The last goal again, unless the camera is there (the camera jumps to a goal: a repeat is harmless)."""
        with self._cond:
            T = None if not self.taken or self._at_goal(self.camera_pose) else self.taken[-1]
        if T is not None:
            self.pub_goal.publish(conv.matrix_to_pose_stamped(T, frame_id="world"))
        return T is not None

    def reset_reconstruction(self, timeout: float) -> None:
        """Have the reconstruction node forget every object; returns once its empty objects/error cloud
        has arrived (clouds from before the reset come before it, so none of them is taken for after)."""
        if not self._wait(self.reset_client.service_is_ready, timeout):
            raise DemoError("the reconstruction node offers no reconstruction/reset service")
        with self._cond:
            empty_before = self.empty_clouds
        done, futures = threading.Event(), []

        def call() -> None:  # again while unanswered: a reset twice is one reset
            futures.append(self.reset_client.call_async(Trigger.Request()))
            futures[-1].add_done_callback(lambda _: done.set())

        call()
        answered = self._wait_resending(done.is_set, timeout, "reconstruction/reset", call)
        results = [f.result() for f in futures if f.done()]
        if not answered or not any(r is not None and r.success for r in results):
            raise DemoError(f"reconstruction/reset did not answer within {timeout:.0f} s")
        if not self._wait(lambda: self.empty_clouds > empty_before, timeout):
            raise DemoError(f"no empty objects/error cloud within {timeout:.0f} s of reconstruction/reset")
        with self._cond:
            self.frames_at_goal = 0

    def _random_view(self, obj: SceneObject, track_id: int | None) -> np.ndarray:
        """A random view away from this object's moves and from every view its reconstruction has (a view
        near one of those would be refused as a near-duplicate and the step would wait in vain)."""
        with self._cond:
            used = self.used_views.poses(track_id) if track_id is not None else []
        distance = float(self.rng.choice(self.view_distances))
        return random_view(obj, self.rng, distance, self.elevation_deg, taken=[*self.taken, *used],
                           min_angle_deg=self.min_angle_deg)  # fmt: skip

    def track_for(self, obj: SceneObject, prefer: int | None = None) -> int | None:
        with self._cond:
            centers = {i: g.center for i, g in self.grids.items()}
        return track_of(obj, centers, prefer)

    def run_object(self, obj: SceneObject, *, steps: int, timeout: float = 30.0) -> ObjectRun:
        """Initial view, then ``steps`` - 1 moves; each step is measured once the object's
        reconstruction has used the new view (or after ``timeout`` seconds, as it stands)."""
        run = ObjectRun(obj.index)
        self.taken = []
        # Without a reset the object may already have views from the runs of its neighbours; step 1 is
        # then the first reconstruction that uses the initial view, not one from before the camera got there.
        tid = self.track_for(obj)
        last_views = self._views_of(tid) if tid is not None else 0
        self._move(initial_view(obj, self.seed, self.distance))
        if self.reset_per_object:
            if not self._wait_resending(self._camera_arrived, timeout, "camera goal", self._resend_goal):
                self.log(f"  {obj.key}: the camera did not reach the initial view within {timeout:.0f} s")
            self.reset_reconstruction(timeout)
            last_views = 0
        for step in range(steps):
            t_move = time.monotonic()

            def new_view_used(last=last_views) -> bool:
                tid = self.track_for(obj, run.track_id)
                return self._camera_arrived() and tid is not None and self.view_counts.get(tid, 0) > last

            def view_unusable() -> bool:  # only once the object has a reconstruction: the first may take longer
                return self.frames_at_goal >= self.frames_per_view and self.track_for(obj, run.track_id) is not None

            if not self._wait_resending(
                lambda: new_view_used() or view_unusable(), timeout, "camera goal", self._resend_goal
            ):
                self.log(f"  {obj.key}: step {step + 1}: the new view was not used within {timeout:.0f} s")
            elif not new_view_used():
                self.log(
                    f"  {obj.key}: step {step + 1}: {self.frames_per_view} frames from the new view and its "
                    "reconstruction did not use one (not segmented from there, or too like a view it has); "
                    "going on"
                )
            run.track_id = self.track_for(obj, run.track_id)
            # the update's objects/poses can come after its objects/error cloud
            self._wait(lambda: self.positions_stamp == self.grid_stamp, 1.0)
            with self._cond:
                grid = self.grids.get(run.track_id) if run.track_id is not None else None
                pose = None if self.camera_pose is None else self.camera_pose.copy()
                views = self.view_counts.get(run.track_id, 0) if run.track_id is not None else 0
            if grid is None:
                self.log(f"  {obj.key}: not reconstructed yet, stopping")
                break
            last_views = views
            truth = true_grid(obj, grid)
            m = grid_metrics(grid.occupancy, truth, threshold=0.4)
            latency = 1e3 * (time.monotonic() - t_move)
            T_obj = self._object_position(run.track_id)
            trans = float(np.linalg.norm(T_obj - obj.center) * 100) if T_obj is not None else float("nan")
            rec = StepRecord(views, float(m["iou"]), float(m["fscore"]), trans,
                             (pose if pose is not None else np.eye(4)).tolist(), latency, self.planner)  # fmt: skip
            run.steps.append(rec)
            if run.occupancy_first is None:
                run.occupancy_first = grid.occupancy.copy()
            run.occupancy_last, run.grid_last = grid.occupancy.copy(), grid
            run.position_last = None if T_obj is None else [float(v) for v in T_obj]
            az, el, _ = cameras.angles_from_camera(np.asarray(rec.camera_pose), target=obj.center)
            self.log(f"  {obj.key:<22} {self.planner:<6} step {step + 1}: views={views} IoU={rec.iou:.3f} "
                     f"F={rec.fscore:.3f} pos.err={trans:.1f} cm  camera az={float(az):.0f} el={float(el):.0f}  "
                     f"{latency:.0f} ms")  # fmt: skip
            if step + 1 < steps:
                self._move(self._next_view(obj, run.track_id, timeout))
        return run

    def _next_view(self, obj: SceneObject, track_id: int, timeout: float) -> np.ndarray:
        if self.planner == "random":
            return self._random_view(obj, track_id)
        with self._cond:
            grid = self.grids.get(track_id)
        aim = obj.center if grid is None else np.asarray(grid.center)
        since = time.monotonic()

        # next_best_view does not name its object: one planned for the previous target (from a cloud that
        # reached nbv_node before nbv/target did) can arrive after `since`. The planner aims at the grid centre
        # and never suggests the view the camera is at (it counts as taken): such a suggestion is stale.
        def suggested_for_this_object() -> bool:
            if self.suggestion is None or self.suggestion[0] <= since:
                return False
            T = self.suggestion[1]
            here = self.camera_pose is not None and np.linalg.norm(T[:3, 3] - self.camera_pose[:3, 3]) < ARRIVED_M
            return not here and looks_at(T, aim, tolerance_m=0.25 * obj.size)

        def send_target() -> None:
            # the object's track as of now: a track the reconstruction retired (and started again under a new id)
            # gets no plan from nbv_node ("object N is not in objects/error")
            tid = self.track_for(obj, track_id)
            self.pub_target.publish(Int32(data=int(track_id if tid is None else tid)))

        send_target()
        # again while no suggestion comes: nbv_node answers each with a plan from its latest reconstruction
        ok = self._wait_resending(suggested_for_this_object, timeout, "nbv/target", send_target)
        if not ok:
            self.log(f"  object {obj.index}: no next_best_view within {timeout:.0f} s, moving randomly")
            return self._random_view(obj, track_id)
        with self._cond:
            return self.suggestion[1].copy()

    def _at_goal(self, pose: np.ndarray | None) -> bool:
        with self._cond:
            return (
                pose is not None
                and bool(self.taken)
                and bool(np.linalg.norm(pose[:3, 3] - self.taken[-1][:3, 3]) < ARRIVED_M)
            )

    def _camera_arrived(self) -> bool:
        """Whether the camera reports the pose it was last sent to."""
        with self._cond:
            return self._at_goal(self.camera_pose)

    def _views_of(self, track_id: int) -> int:
        with self._cond:
            return self.view_counts.get(track_id, 0)

    def _object_position(self, track_id: int) -> np.ndarray | None:
        with self._cond:
            return self.positions.get(track_id)
