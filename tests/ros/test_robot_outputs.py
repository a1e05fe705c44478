"""Message builders of ros/robot_outputs.py: objects/ids, vision_msgs detections, MoveIt collision objects.

vision_msgs and moveit_msgs have no pip wheels, so the builders run on stand-ins with the real
fields and type checks (tests/ros/message_standins.py); where the real packages are installed
(a robot with ros-<distro>-vision-msgs / -moveit-msgs) the same checks run on the real classes too.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from shape_msgs.msg import Mesh, MeshTriangle, SolidPrimitive  # noqa: E402

from tests.ros import message_standins as standins  # noqa: E402
from tests.ros.object_estimates import box_estimate, yaw_matrix  # noqa: E402
from vtr_perception.geometry.cameras import transform_points  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.mesh_export import object_box, object_matrix, reconstruction_score  # noqa: E402
from vtr_perception.ros.robot_outputs import (  # noqa: E402
    CollisionScene,
    CollisionTypes,
    VisionTypes,
    collision_add,
    collision_remove,
    detection_array,
    ids_message,
    import_collision_types,
    import_vision_types,
)

STANDIN_VISION = VisionTypes(standins.Detection3DArray, standins.Detection3D, standins.ObjectHypothesisWithPose)
STANDIN_COLLISION = CollisionTypes(standins.CollisionObject, Mesh, MeshTriangle, SolidPrimitive)
STANDIN_COLLISION_WITHOUT_POSE = CollisionTypes(standins.CollisionObjectWithoutPose, Mesh, MeshTriangle, SolidPrimitive)


def standin_and_real(standin, real, package: str) -> list:
    """The stand-in, and the real classes where ``package`` is installed (else that case is skipped)."""
    skip = pytest.mark.skipif(real is None, reason=f"{package} not installed")
    return [pytest.param(standin, id="standin"), pytest.param(real, id=package, marks=skip)]


def test_standins_reject_unknown_fields_and_wrong_types_as_rclpy_does():
    with pytest.raises(AttributeError):
        standins.Detection3D().tracking_id = "object_1"  # vision_msgs 3.x, not 4.x
    with pytest.raises(AssertionError):
        standins.ObjectHypothesis().score = 1  # float64 wants a float
    with pytest.raises(AssertionError):
        standins.CollisionObject().operation = 0  # byte wants bytes
    with pytest.raises(AssertionError):
        standins.Detection3DArray().detections = [standins.Detection3D(), "not a detection"]


@pytest.mark.parametrize("types", standin_and_real(STANDIN_VISION, import_vision_types(), "vision_msgs"))
def test_detection_carries_id_pose_box_size_and_score(types):
    # a 6 x 4 x 10 cm box centred 2 cm along the object's x, the object turned 30 degrees about z
    estimates = [box_estimate(3, offset=(0.02, 0.0, 0.0)), box_estimate(7, position=(0.1, -0.3, 0.05), error=0.6)]
    msg = detection_array(estimates, types, stamp=12.5, frame_id="map")

    assert msg.header.frame_id == "map" and conv.stamp_to_seconds(msg.header.stamp) == 12.5
    assert [d.id for d in msg.detections] == ["object_3", "object_7"]
    for det, est in zip(msg.detections, estimates, strict=True):
        assert det.header.frame_id == "map"
        (result,) = det.results
        assert result.hypothesis.class_id == "object"
        assert 0.0 <= result.hypothesis.score <= 1.0
        np.testing.assert_allclose(conv.pose_to_matrix(result.pose.pose), object_matrix(est), atol=1e-9)
        size = [det.bbox.size.x, det.bbox.size.y, det.bbox.size.z]
        np.testing.assert_allclose(size, [0.06, 0.04, 0.1], atol=1e-9)
    box_center = conv.pose_to_matrix(msg.detections[0].bbox.center)
    # the box is the object's axes moved to the mesh's centre: 2 cm along the object's x from its origin
    np.testing.assert_allclose(box_center[:3, :3], object_matrix(estimates[0])[:3, :3], atol=1e-9)
    expected_center = transform_points(yaw_matrix((0.5, 0.2, 0.1), 30.0), np.array([[0.02, 0.0, 0.0]]))[0]
    np.testing.assert_allclose(box_center[:3, 3], expected_center, atol=1e-9)
    # the more certain reconstruction scores higher
    scores = [d.results[0].hypothesis.score for d in msg.detections]
    assert scores == pytest.approx([0.8, 0.4])


def test_score_is_one_minus_the_mean_error_of_the_solid_and_zero_without_one():
    est = box_estimate(1, error=0.25)
    assert reconstruction_score(est) == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    est.occupancy, est.error = rng.random((8, 8, 8)), rng.random((8, 8, 8))
    solid = est.occupancy >= est.surface_threshold
    assert reconstruction_score(est) == pytest.approx(1.0 - est.error[solid].mean())
    est.occupancy = np.zeros((8, 8, 8))
    assert reconstruction_score(est) == 0.0


def test_box_of_an_object_without_surface_is_a_cube_of_its_scale_at_its_origin():
    est = box_estimate(2, surface=False)
    box = object_box(est)
    np.testing.assert_allclose(box.size, [0.1, 0.1, 0.1])
    np.testing.assert_allclose(box.T_world_box, object_matrix(est))


def test_collision_scene_adds_new_and_changed_tracks_and_removes_retired_ones():
    scene = CollisionScene()
    a, b = box_estimate(1), box_estimate(2)
    assert scene.update({1: a}) == ([1], [])
    assert scene.update({1: a, 2: b}) == ([2], [])  # unchanged estimate: not sent again
    assert scene.update({1: a, 2: b}) == ([], [])
    a2 = box_estimate(1, position=(0.52, 0.2, 0.1))  # a new estimate of track 1 replaces it
    assert scene.update({1: a2, 2: b}) == ([1], [])
    assert scene.update({2: b}) == ([], [1])  # track 1 retired
    assert scene.update({}) == ([], [2])  # ~/reset forgets everything
    assert scene.update({}) == ([], [])


@pytest.mark.parametrize("types", standin_and_real(STANDIN_COLLISION, import_collision_types(), "moveit_msgs"))
def test_collision_add_is_the_mesh_in_the_object_frame_at_the_object_pose(types):
    est = box_estimate(4, offset=(0.0, 0.01, 0.0))
    msg = collision_add(est, (est.vertices, est.triangles), types, stamp=3.0, frame_id="world")
    assert msg.id == "object_4" and msg.header.frame_id == "world"
    assert msg.operation == types.CollisionObject.ADD
    np.testing.assert_allclose(conv.pose_to_matrix(msg.pose), object_matrix(est), atol=1e-9)
    (mesh,) = msg.meshes
    (mesh_pose,) = msg.mesh_poses
    np.testing.assert_allclose(conv.pose_to_matrix(mesh_pose), np.eye(4), atol=1e-9)
    local = np.array([[p.x, p.y, p.z] for p in mesh.vertices])
    np.testing.assert_allclose(transform_points(object_matrix(est), local), est.vertices, atol=1e-9)
    np.testing.assert_array_equal([list(t.vertex_indices) for t in mesh.triangles], est.triangles)
    assert not msg.primitives

    remove = collision_remove(4, types, stamp=4.0, frame_id="world")
    assert remove.id == "object_4" and remove.operation == types.CollisionObject.REMOVE
    assert not remove.meshes and not remove.primitives


def test_collision_mesh_is_placed_by_its_own_pose_where_the_message_has_no_pose():
    est = box_estimate(5)
    msg = collision_add(est, (est.vertices, est.triangles), STANDIN_COLLISION_WITHOUT_POSE, stamp=0.0, frame_id="w")
    (mesh_pose,) = msg.mesh_poses
    np.testing.assert_allclose(conv.pose_to_matrix(mesh_pose), object_matrix(est), atol=1e-9)
    local = np.array([[p.x, p.y, p.z] for p in msg.meshes[0].vertices])
    np.testing.assert_allclose(transform_points(object_matrix(est), local), est.vertices, atol=1e-9)


@pytest.mark.parametrize("types", [STANDIN_COLLISION, STANDIN_COLLISION_WITHOUT_POSE], ids=["pose", "no_pose"])
def test_object_without_surface_is_added_as_its_box(types):
    est = box_estimate(6, surface=False)
    msg = collision_add(est, None, types, stamp=0.0, frame_id="world")
    assert not msg.meshes
    (primitive,) = msg.primitives
    assert primitive.type == SolidPrimitive.BOX
    np.testing.assert_allclose(primitive.dimensions, [0.1, 0.1, 0.1])
    base = conv.pose_to_matrix(msg.pose) if hasattr(msg, "pose") else np.eye(4)
    np.testing.assert_allclose(base @ conv.pose_to_matrix(msg.primitive_poses[0]), object_box(est).T_world_box,
                               atol=1e-9)  # fmt: skip


def test_ids_message_lists_the_ids_in_order_with_a_labelled_dimension():
    msg = ids_message([2, 5, 11])
    assert list(msg.data) == [2, 5, 11]
    (dim,) = msg.layout.dim
    assert (dim.label, dim.size, dim.stride) == ("object_id", 3, 3)
    assert list(ids_message([]).data) == []
