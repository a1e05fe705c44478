"""Object outputs for robot software: ids beside the poses, vision_msgs detections, MoveIt collision objects.

Published by the reconstruction node with each update (frame ``world_frame``, the image's stamp):

- ``objects/ids`` (std_msgs/Int32MultiArray): the object ids of ``objects/poses``, in the same order
  (ascending id, the marker ids), published just before each PoseArray. A PoseArray cannot carry
  ids; where tf2 is present each object is also the TF frame ``object_<id>``.
- ``objects/detections`` (vision_msgs/Detection3DArray), where ``vision_msgs`` imports (apt
  ``ros-<distro>-vision-msgs``): per object ``id`` ``object_<id>``, one hypothesis (class_id
  ``object``, score = ``mesh_export.reconstruction_score``, pose = the object's pose, covariance
  zeros: not estimated) and ``bbox`` (centre pose and size along the object's axes).
- ``collision_object`` (moveit_msgs/CollisionObject), where ``moveit_msgs`` imports (apt
  ``ros-<distro>-moveit-msgs``): ADD (which replaces an existing one) with the object's decimated
  mesh in its own frame, when a track appears or its estimate changes; REMOVE when it retires or
  ``~/reset`` forgets it. ``id`` is ``object_<id>``. An object without a surface is its box.

The builders take the message classes as arguments (``VisionTypes``, ``CollisionTypes``): the
node passes the real ones, the tests stand-ins with the same fields. ``CollisionObject.pose``
exists from Humble on (shapes are relative to it); without it the mesh pose is the object's pose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from geometry_msgs.msg import Point, Vector3
from rclpy.node import Node
from std_msgs.msg import Int32MultiArray, MultiArrayDimension

from vtr_perception.perception.object_pose import ObjectEstimate
from vtr_perception.ros import conversions as conv
from vtr_perception.ros.mesh_export import (
    object_box,
    object_frame_vertices,
    object_matrix,
    object_name,
    reconstruction_score,
)
from vtr_perception.ros.qos import reliable_qos

OBJECT_CLASS_ID = "object"  # the reconstructor knows no categories
COLLISION_QOS_DEPTH = 100  # one message per changed object: a burst must not overwrite unsent ones


class VisionTypes(NamedTuple):
    Detection3DArray: type
    Detection3D: type
    ObjectHypothesisWithPose: type


class CollisionTypes(NamedTuple):
    CollisionObject: type
    Mesh: type
    MeshTriangle: type
    SolidPrimitive: type


def import_vision_types() -> VisionTypes | None:
    """vision_msgs' classes, or None where the package is not installed."""
    try:
        from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose
    except ImportError:
        return None
    return VisionTypes(Detection3DArray, Detection3D, ObjectHypothesisWithPose)


def import_collision_types() -> CollisionTypes | None:
    """moveit_msgs' CollisionObject and the shape_msgs it holds, or None where moveit_msgs is not installed."""
    try:
        from moveit_msgs.msg import CollisionObject
        from shape_msgs.msg import Mesh, MeshTriangle, SolidPrimitive
    except ImportError:
        return None
    return CollisionTypes(CollisionObject, Mesh, MeshTriangle, SolidPrimitive)


def ids_message(ids: Sequence[int]) -> Int32MultiArray:
    """objects/ids: one dimension labelled ``object_id``."""
    msg = Int32MultiArray(data=[int(i) for i in ids])
    msg.layout.dim = [MultiArrayDimension(label="object_id", size=len(msg.data), stride=len(msg.data))]
    return msg


def _vector3(v: np.ndarray) -> Vector3:
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def detection_array(estimates: Sequence[ObjectEstimate], types: VisionTypes, *, stamp, frame_id: str):
    """A Detection3DArray with one Detection3D per estimate (see the module doc)."""
    out = types.Detection3DArray()
    out.header = conv.make_header(stamp=stamp, frame_id=frame_id)
    detections = []
    for est in estimates:
        det = types.Detection3D()
        det.header = conv.make_header(stamp=stamp, frame_id=frame_id)
        det.id = object_name(est.id)
        hypothesis = types.ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = OBJECT_CLASS_ID
        hypothesis.hypothesis.score = reconstruction_score(est)
        hypothesis.pose.pose = conv.matrix_to_pose(object_matrix(est))
        det.results = [hypothesis]
        box = object_box(est)
        det.bbox.center = conv.matrix_to_pose(box.T_world_box)
        det.bbox.size = _vector3(box.size)
        detections.append(det)
    out.detections = detections
    return out


def _collision_object(object_id: int, operation: str, types: CollisionTypes, *, stamp, frame_id: str):
    msg = types.CollisionObject()
    msg.header = conv.make_header(stamp=stamp, frame_id=frame_id)
    msg.id = object_name(object_id)
    msg.operation = getattr(types.CollisionObject, operation)
    return msg


def collision_add(
    est: ObjectEstimate, mesh: tuple[np.ndarray, np.ndarray] | None, types: CollisionTypes, *, stamp, frame_id: str
):
    """ADD (or replace) ``object_<id>``: ``mesh`` (world vertices, triangles) in the object frame, else its box."""
    msg = _collision_object(est.id, "ADD", types, stamp=stamp, frame_id=frame_id)
    T = object_matrix(est)
    has_pose = hasattr(msg, "pose")  # Humble and later: shapes are placed relative to msg.pose
    if has_pose:
        msg.pose = conv.matrix_to_pose(T)
    base = np.eye(4) if has_pose else T  # shape poses are T_base_shape
    if mesh is not None and len(mesh[1]):
        shape = types.Mesh()
        shape.vertices = [Point(x=x, y=y, z=z) for x, y, z in object_frame_vertices(est, mesh[0]).tolist()]
        indices = np.asarray(mesh[1], dtype=np.uint32)
        shape.triangles = [types.MeshTriangle(vertex_indices=t) for t in indices]
        msg.meshes = [shape]
        msg.mesh_poses = [conv.matrix_to_pose(base)]
    else:
        box = object_box(est)
        primitive = types.SolidPrimitive()
        primitive.type = types.SolidPrimitive.BOX
        primitive.dimensions = [float(v) for v in box.size]
        msg.primitives = [primitive]
        msg.primitive_poses = [conv.matrix_to_pose(base @ np.linalg.inv(T) @ box.T_world_box)]
    return msg


def collision_remove(object_id: int, types: CollisionTypes, *, stamp, frame_id: str):
    """REMOVE ``object_<id>`` from the planning scene."""
    return _collision_object(object_id, "REMOVE", types, stamp=stamp, frame_id=frame_id)


class CollisionScene:
    """Which estimate each collision object was last added from: what to ADD and REMOVE on an update."""

    def __init__(self) -> None:
        self._sent: dict[int, ObjectEstimate] = {}

    def update(self, estimates: Mapping[int, ObjectEstimate]) -> tuple[list[int], list[int]]:
        """(ids to ADD: new tracks and changed estimates, ids to REMOVE: retired tracks), both ascending."""
        added = [i for i in sorted(estimates) if self._sent.get(i) is not estimates[i]]
        removed = sorted(set(self._sent) - set(estimates))
        self._sent = dict(estimates)
        return added, removed


class RobotOutputs:
    """The node's publishers of these outputs; detections and collision objects only where their package imports."""

    def __init__(self, node: Node, *, detections: bool = True, collision_objects: bool = True) -> None:
        self.pub_ids = node.create_publisher(Int32MultiArray, "objects/ids", reliable_qos())
        self.vision = import_vision_types() if detections else None
        self.collision = import_collision_types() if collision_objects else None
        self.pub_detections = None
        self.pub_collision = None
        if self.vision is not None:
            self.pub_detections = node.create_publisher(self.vision.Detection3DArray, "objects/detections",
                                                        reliable_qos())  # fmt: skip
        if self.collision is not None:
            self.pub_collision = node.create_publisher(self.collision.CollisionObject, "collision_object",
                                                       reliable_qos(depth=COLLISION_QOS_DEPTH))  # fmt: skip
        self.scene = CollisionScene()
        node.get_logger().info("outputs: objects/ids on; " + self.status(detections, collision_objects))

    def status(self, detections: bool, collision_objects: bool) -> str:
        """Which optional outputs are on, and why the others are off."""

        def one(topic: str, wanted: bool, on: bool, package: str) -> str:
            if on:
                return f"{topic} on"
            if not wanted:
                return f"{topic} off (parameter)"
            return f"{topic} off ({package} not importable: apt install ros-<distro>-{package.replace('_', '-')})"

        return "; ".join([
            one("objects/detections", detections, self.pub_detections is not None, "vision_msgs"),
            one("collision_object", collision_objects, self.pub_collision is not None, "moveit_msgs"),
        ])  # fmt: skip

    def publish_ids(self, ids: Sequence[int]) -> None:
        self.pub_ids.publish(ids_message(ids))

    def publish(
        self,
        estimates: Mapping[int, ObjectEstimate],
        meshes: Mapping[int, tuple[np.ndarray, np.ndarray] | None],
        *,
        stamp,
        frame_id: str,
    ) -> None:
        """Detections of every object; collision objects added for new or changed estimates, removed for gone ones."""
        if self.pub_detections is not None:
            ordered = [estimates[i] for i in sorted(estimates)]
            self.pub_detections.publish(detection_array(ordered, self.vision, stamp=stamp, frame_id=frame_id))
        if self.pub_collision is not None:
            added, removed = self.scene.update(estimates)
            for i in removed:
                self.pub_collision.publish(collision_remove(i, self.collision, stamp=stamp, frame_id=frame_id))
            for i in added:
                msg = collision_add(estimates[i], meshes.get(i), self.collision, stamp=stamp, frame_id=frame_id)
                self.pub_collision.publish(msg)
