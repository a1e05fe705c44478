"""nbv_node over real DDS: a hand-made objects/error cloud and camera pose in, the planner's choice out.

The node runs in its own process with the shipped config/nbv.yaml. This process publishes
the camera pose and a two-object error cloud, and checks that next_best_view is exactly the
pose NextBestViewPlanner picks for the same grids with the same (YAML) PlannerConfig; that
nbv/target switches the object; that a view the reconstruction used counts as taken for its
own object, whichever object was the target; that a suggested view the camera reached is not
suggested again; and that a malformed cloud is ignored while the node keeps answering.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

import yaml  # noqa: E402
from geometry_msgs.msg import PoseArray, PoseStamped  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import Int32  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from tests.ros.helpers import REPO, isolated_node, spin_until  # noqa: E402
from tests.ros.node_processes import NodeProcess  # noqa: E402
from vtr_perception.geometry.cameras import camera_from_angles  # noqa: E402
from vtr_perception.geometry.voxels import voxel_centers  # noqa: E402
from vtr_perception.nbv.config import PlannerConfig  # noqa: E402
from vtr_perception.nbv.object_grid import grids_from_cloud  # noqa: E402
from vtr_perception.nbv.occlusion import occupied_box  # noqa: E402
from vtr_perception.nbv.planner import NextBestViewPlanner  # noqa: E402
from vtr_perception.resources import section_parameters  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.nbv_node import NbvNodeConfig  # noqa: E402
from vtr_perception.ros.qos import latched_qos, reliable_qos  # noqa: E402
from vtr_perception.ros.reconstruction_node import OBJECT_CLOUD_DTYPE  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

R = 16
# id -> (grid centre, grid side in metres, error scale); object 3 carries the most error
OBJECTS = {3: ((0.12, 0.0, 0.08), 0.2, 0.6), 5: ((-0.12, 0.02, 0.07), 0.18, 0.3)}
CAMERA = camera_from_angles(30.0, 35.0, 0.6, target=np.array(OBJECTS[3][0]))
ANSWER_TIMEOUT_S = 30.0


def error_cloud_points(objects: dict = OBJECTS) -> np.ndarray:
    """A ball of occupied voxels per object, with its predicted error on the -y, lower side."""
    local = voxel_centers(R).reshape(-1, 3)
    parts = []
    for object_id, (center, extent, error_scale) in objects.items():
        cloud = np.zeros(R**3, OBJECT_CLOUD_DTYPE)
        xyz = local * extent + np.asarray(center)
        cloud["x"], cloud["y"], cloud["z"] = xyz.T
        cloud["occupancy"] = (np.linalg.norm(local, axis=1) < 0.35).astype(np.float32) * 0.9 + 0.05
        side = np.clip(-local[:, 1] - 0.3 * local[:, 2], 0.0, None)
        cloud["error"] = error_scale * side * (cloud["occupancy"] > 0.5)
        cloud["id"], cloud["views"] = object_id, 1
        parts.append(cloud)
    return np.concatenate(parts)


def yaml_planner_config() -> PlannerConfig:
    shipped = section_parameters(yaml.safe_load((REPO / "config" / "nbv.yaml").read_text()), "nbv")
    return PlannerConfig(**shipped["planner"])


def expected_plan(points: np.ndarray, target: int, taken: list[np.ndarray], current: np.ndarray = CAMERA):
    grids = grids_from_cloud(points)
    grid = grids[target]
    config = yaml_planner_config()
    # the other objects stand in the line of sight of some candidates (nbv.occlusion)
    others = [occupied_box(g.occupancy, g.center, g.extent, config.occupancy_threshold)
              for i, g in grids.items() if i != target]  # fmt: skip
    return NextBestViewPlanner(config).plan(grid.error, grid.occupancy, center=grid.center, extent=grid.extent,
                                            current_pose=current, taken_poses=taken,
                                            obstacles=[b for b in others if b is not None])  # fmt: skip


class NbvClient:
    def __init__(self, node, executor) -> None:
        self.node, self.executor = node, executor
        self.lock = threading.Lock()
        self.goals: list[PoseStamped] = []
        self.candidates: list[PoseArray] = []
        self.markers: list[MarkerArray] = []
        node.create_subscription(PoseStamped, "next_best_view", self._keep(self.goals), reliable_qos())
        node.create_subscription(PoseArray, "nbv/candidates", self._keep(self.candidates), reliable_qos())
        node.create_subscription(MarkerArray, "nbv/markers", self._keep(self.markers), latched_qos())
        self.pub_cloud = node.create_publisher(PointCloud2, "objects/error", latched_qos())  # as the reconstruction
        self.pub_pose = node.create_publisher(PoseStamped, "camera_pose", reliable_qos())
        self.pub_target = node.create_publisher(Int32, "nbv/target", reliable_qos())

    def _keep(self, store: list):
        def callback(msg) -> None:
            with self.lock:
                store.append(msg)

        return callback

    def wait(self, done, timeout_s: float = ANSWER_TIMEOUT_S) -> bool:
        return spin_until(self.executor, done, timeout_s=timeout_s)

    def publish_cloud(self, points: np.ndarray, stamp: float) -> None:
        self.pub_cloud.publish(conv.structured_to_pointcloud2(points, stamp=stamp, frame_id="world"))

    def answer_for(self, stamp: float, timeout_s: float = ANSWER_TIMEOUT_S):
        """The (next_best_view, candidates) published for the cloud with this stamp."""

        def find():
            with self.lock:
                goal = next((g for g in self.goals if conv.stamp_to_seconds(g.header.stamp) == stamp), None)
                cands = next((c for c in self.candidates if conv.stamp_to_seconds(c.header.stamp) == stamp), None)
            return (goal, cands) if goal is not None and cands is not None else None

        self.wait(lambda: find() is not None, timeout_s)
        return find()


@pytest.fixture(scope="module")
def nbv(tmp_path_factory):
    log = tmp_path_factory.mktemp("nbv_logs") / "nbv.log"
    proc = NodeProcess("vtr_perception.ros.nbv_node", log, params_file=REPO / "config" / "nbv.yaml")
    try:
        with isolated_node("nbv_test_client") as (node, executor):
            client = NbvClient(node, executor)
            ready = client.wait(
                lambda: client.pub_cloud.get_subscription_count() > 0 and client.pub_pose.get_subscription_count() > 0
            )
            assert ready, f"nbv_node did not subscribe within {ANSWER_TIMEOUT_S} s:\n{proc.output()}"
            client.pub_pose.publish(conv.matrix_to_pose_stamped(CAMERA, stamp=1.0, frame_id="world"))
            client.wait(lambda: False, 0.5)  # let the pose land before the first cloud
            yield client, proc
    finally:
        code = proc.stop()
    assert code == 0, proc.output()


def test_next_best_view_is_the_planners_choice(nbv):
    client, proc = nbv
    points = error_cloud_points()
    client.publish_cloud(points, stamp=10.0)
    answer = client.answer_for(10.0)
    assert answer is not None, f"no next_best_view within {ANSWER_TIMEOUT_S} s:\n{proc.output()}"
    goal, candidates = answer

    expected = expected_plan(points, target=3, taken=[CAMERA])  # the worst object; the current view counts as taken
    assert expected.best_pose is not None and not expected.stop
    assert goal.header.frame_id == "world"
    np.testing.assert_allclose(conv.pose_to_matrix(goal), expected.best_pose, atol=1e-6)
    np.testing.assert_allclose(conv.pose_array_to_matrices(candidates), expected.poses, atol=1e-6)

    # the YAML limits are in force: a planner free to look from any elevation ranks other candidates
    wide = PlannerConfig(elevation_min_deg=-90.0, elevation_max_deg=90.0)
    unlimited = NextBestViewPlanner(wide).plan(
        grids_from_cloud(points)[3].error, grids_from_cloud(points)[3].occupancy,
        center=grids_from_cloud(points)[3].center, extent=grids_from_cloud(points)[3].extent,
        current_pose=CAMERA, taken_poses=[CAMERA],
    )  # fmt: skip
    assert len(unlimited.poses) != len(candidates.poses)

    assert client.wait(lambda: bool(client.markers))
    arrows = [m for m in client.markers[-1].markers if m.type == Marker.ARROW and m.action == Marker.ADD]
    assert len(arrows) == min(NbvNodeConfig().max_arrows, len(expected.poses))  # best first, one per candidate


def test_target_topic_switches_the_object(nbv):
    client, proc = nbv
    points = error_cloud_points()
    client.pub_target.publish(Int32(data=5))
    client.wait(lambda: False, 0.5)
    client.publish_cloud(points, stamp=20.0)
    answer = client.answer_for(20.0)
    assert answer is not None, proc.output()
    expected = expected_plan(points, target=5, taken=[CAMERA])
    np.testing.assert_allclose(conv.pose_to_matrix(answer[0]), expected.best_pose, atol=1e-6)
    client.pub_target.publish(Int32(data=-1))  # back to "the worst object"


def test_malformed_cloud_is_ignored_and_the_node_keeps_answering(nbv):
    client, proc = nbv
    good = error_cloud_points()
    no_error_field = np.zeros(10, [(n, "<f4") for n in ("x", "y", "z", "occupancy", "id")])
    not_cubic = good[:-7]
    nan_positions = good.copy()
    nan_positions["x"][:5] = np.nan
    for stamp, bad in ((30.0, no_error_field), (31.0, not_cubic), (32.0, nan_positions)):
        client.publish_cloud(bad, stamp=stamp)
    client.wait(lambda: False, 1.0)
    client.publish_cloud(good, stamp=33.0)
    assert client.answer_for(33.0) is not None, proc.output()
    for stamp in (30.0, 31.0, 32.0):
        assert client.answer_for(stamp, timeout_s=0.1) is None, f"answered a malformed cloud (stamp {stamp})"
    assert proc.alive()
    assert "ignoring objects/error" in proc.output()


def test_a_view_counts_as_taken_for_the_object_that_used_it(nbv):
    """The camera goes where the planner said for object 5 while object 3 is the target; object 5's
    reconstruction uses that frame (views 1 -> 2). Planning for 5 then must not send the camera back
    to where it is (it did: the view was recorded under the target, 3)."""
    client, proc = nbv
    points = error_cloud_points()
    moved_to = expected_plan(points, target=5, taken=[CAMERA]).best_pose
    client.pub_pose.publish(conv.matrix_to_pose_stamped(moved_to, stamp=39.0, frame_id="world"))
    client.wait(lambda: False, 0.5)
    points["views"][points["id"] == 5] = 2
    client.publish_cloud(points, stamp=40.0)
    assert client.answer_for(40.0) is not None, proc.output()  # planned for the worst object, 3

    with client.lock:
        before = len(client.goals)
    client.pub_target.publish(Int32(data=5))
    assert client.wait(lambda: len(client.goals) > before), proc.output()
    goal = conv.pose_to_matrix(client.goals[before])
    expected = expected_plan(points, target=5, taken=[CAMERA, moved_to], current=moved_to)
    np.testing.assert_allclose(goal, expected.best_pose, atol=1e-6)
    cos = goal[:3, 2] @ moved_to[:3, 2]
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))) >= yaml_planner_config().min_angle_from_taken_deg - 1e-6
    client.pub_target.publish(Int32(data=-1))


def test_a_reached_suggestion_is_not_suggested_again(nbv):
    """The camera goes to the suggested view, but the reconstruction does not use that frame (views
    stay 1) and the camera comes back. The same grids must not send it there a second time."""
    client, proc = nbv
    objects = {7: OBJECTS[3], 9: OBJECTS[5]}  # ids the node has no views recorded for; 7 has the most error
    points = error_cloud_points(objects)
    client.pub_pose.publish(conv.matrix_to_pose_stamped(CAMERA, stamp=49.0, frame_id="world"))
    client.wait(lambda: False, 0.5)
    client.publish_cloud(points, stamp=50.0)
    answer = client.answer_for(50.0)
    assert answer is not None, proc.output()
    first = conv.pose_to_matrix(answer[0])
    np.testing.assert_allclose(first, expected_plan(points, target=7, taken=[CAMERA]).best_pose, atol=1e-6)

    client.pub_pose.publish(conv.matrix_to_pose_stamped(first, stamp=51.0, frame_id="world"))
    client.wait(lambda: False, 0.5)
    client.pub_pose.publish(conv.matrix_to_pose_stamped(CAMERA, stamp=52.0, frame_id="world"))
    client.wait(lambda: False, 0.5)
    client.publish_cloud(points, stamp=53.0)  # same grids, same view counts, camera back where it started
    answer = client.answer_for(53.0)
    assert answer is not None, proc.output()
    second = conv.pose_to_matrix(answer[0])
    np.testing.assert_allclose(second, expected_plan(points, target=7, taken=[CAMERA, first]).best_pose, atol=1e-6)
    cos = second[:3, 2] @ first[:3, 2]
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))) >= yaml_planner_config().min_angle_from_taken_deg - 1e-6


def test_a_target_the_cloud_lacks_gets_no_answer_until_a_cloud_has_it(nbv):
    """After a reset (an empty cloud) the target is an object the node has not seen: it must not plan for
    another object instead (the camera would go to look at that one)."""
    client, proc = nbv
    client.publish_cloud(error_cloud_points(), stamp=59.0)  # planned for: the node answers clouds
    assert client.answer_for(59.0) is not None, proc.output()
    client.publish_cloud(np.zeros(0, OBJECT_CLOUD_DTYPE), stamp=60.0)  # the reconstruction node was reset
    client.pub_target.publish(Int32(data=11))
    client.wait(lambda: False, 0.5)
    points = error_cloud_points()  # objects 3 and 5
    client.publish_cloud(points, stamp=61.0)
    client.wait(lambda: False, 2.0)
    with client.lock:
        planned = [c for c in client.candidates if conv.stamp_to_seconds(c.header.stamp) == 61.0]
    assert not planned, "planned for another object than the target"
    with_target = error_cloud_points({**OBJECTS, 11: ((0.0, 0.2, 0.08), 0.16, 0.8)})
    client.publish_cloud(with_target, stamp=62.0)
    answer = client.answer_for(62.0)
    assert answer is not None, proc.output()
    expected = expected_plan(with_target, target=11, taken=[CAMERA])
    np.testing.assert_allclose(conv.pose_to_matrix(answer[0]), expected.best_pose, atol=1e-6)
    assert "object 11 is not in objects/error" in proc.output()
    client.pub_target.publish(Int32(data=-1))


def test_a_planner_started_after_the_last_cloud_still_plans_on_it(tmp_path):
    """The reconstruction's objects/error is latched: a planner that starts (or DDS matches) after the last cloud
    still plans on it. With a volatile cloud the launched loop stalled under load: nbv_node matched after the
    objects' first clouds, and with the camera waiting for a plan no new cloud came."""
    with isolated_node("late_planner_client") as (node, executor):
        pub_cloud = node.create_publisher(PointCloud2, "/late/objects/error", latched_qos())
        goals: list[PoseStamped] = []
        node.create_subscription(PoseStamped, "/late/next_best_view", goals.append, reliable_qos())
        pub_cloud.publish(conv.structured_to_pointcloud2(error_cloud_points(), stamp=5.0, frame_id="world"))
        spin_until(executor, lambda: False, timeout_s=0.5)  # published, with no planner anywhere yet
        config = REPO / "config" / "nbv.yaml"
        planner = NodeProcess("vtr_perception.ros.nbv_node", tmp_path / "nbv.log", params_file=config,
                              ros_args=["--ros-args", "-r", "__ns:=/late"])  # fmt: skip
        try:
            answered = spin_until(executor, lambda: bool(goals), timeout_s=ANSWER_TIMEOUT_S + 30.0)
        finally:
            planner.stop()
        assert answered, planner.output()[-2000:]
        assert conv.stamp_to_seconds(goals[0].header.stamp) == 5.0
