"""Stand-ins for vision_msgs (4.x, Humble and Jazzy) and moveit_msgs messages, which have no pip wheels.

Each class has exactly the fields of the real definition, in its order, with the same defaults;
the nested std_msgs, geometry_msgs and shape_msgs fields are the real (installed) classes. Like
rclpy's generated classes, setting a field the message does not have raises AttributeError, and a
value of the wrong type (an int for a float64, an int for a byte) raises AssertionError, also for
the items of a sequence. ``byte`` constants and fields are ``bytes`` of length 1, as rclpy makes them.

    vision_msgs/Detection3DArray       std_msgs/Header header, Detection3D[] detections
    vision_msgs/Detection3D            std_msgs/Header header, ObjectHypothesisWithPose[] results,
                                       BoundingBox3D bbox, string id
    vision_msgs/ObjectHypothesisWithPose  ObjectHypothesis hypothesis, geometry_msgs/PoseWithCovariance pose
    vision_msgs/ObjectHypothesis       string class_id, float64 score
    vision_msgs/BoundingBox3D          geometry_msgs/Pose center, geometry_msgs/Vector3 size
    moveit_msgs/CollisionObject        std_msgs/Header header, geometry_msgs/Pose pose, string id,
                                       object_recognition_msgs/ObjectType type, shape_msgs/SolidPrimitive[]
                                       primitives, geometry_msgs/Pose[] primitive_poses, shape_msgs/Mesh[]
                                       meshes, geometry_msgs/Pose[] mesh_poses, shape_msgs/Plane[] planes,
                                       geometry_msgs/Pose[] plane_poses, string[] subframe_names,
                                       geometry_msgs/Pose[] subframe_poses, byte ADD=0 REMOVE=1 APPEND=2
                                       MOVE=3, byte operation
    CollisionObjectWithoutPose: the same without ``pose`` and ``subframe_*`` (as before Humble)
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import ClassVar

from geometry_msgs.msg import Pose, PoseWithCovariance, Vector3
from shape_msgs.msg import Mesh, Plane, SolidPrimitive
from std_msgs.msg import Header


class _Checked:
    """Field names and types checked on every assignment, as rclpy's generated message classes do."""

    def __setattr__(self, name: str, value) -> None:
        hints = {f.name: f.type for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if name not in hints:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        tp = typing.get_type_hints(type(self), globals())[name]
        origin = typing.get_origin(tp) or tp
        assert isinstance(value, origin), f"{type(self).__name__}.{name}: {type(value).__name__} is not {tp}"
        if origin is list:
            (item,) = typing.get_args(tp)
            assert all(isinstance(v, item) for v in value), f"{type(self).__name__}.{name}: items must be {item}"
        object.__setattr__(self, name, value)


@dataclass
class ObjectHypothesis(_Checked):
    class_id: str = ""
    score: float = 0.0


@dataclass
class ObjectHypothesisWithPose(_Checked):
    hypothesis: ObjectHypothesis = field(default_factory=ObjectHypothesis)
    pose: PoseWithCovariance = field(default_factory=PoseWithCovariance)


@dataclass
class BoundingBox3D(_Checked):
    center: Pose = field(default_factory=Pose)
    size: Vector3 = field(default_factory=Vector3)


@dataclass
class Detection3D(_Checked):
    header: Header = field(default_factory=Header)
    results: list[ObjectHypothesisWithPose] = field(default_factory=list)
    bbox: BoundingBox3D = field(default_factory=BoundingBox3D)
    id: str = ""


@dataclass
class Detection3DArray(_Checked):
    header: Header = field(default_factory=Header)
    detections: list[Detection3D] = field(default_factory=list)


@dataclass
class ObjectType(_Checked):
    key: str = ""
    db: str = ""


@dataclass
class CollisionObject(_Checked):
    """moveit_msgs/CollisionObject as on Humble, Jazzy and later."""

    ADD: ClassVar[bytes] = b"\x00"
    REMOVE: ClassVar[bytes] = b"\x01"
    APPEND: ClassVar[bytes] = b"\x02"
    MOVE: ClassVar[bytes] = b"\x03"

    header: Header = field(default_factory=Header)
    pose: Pose = field(default_factory=Pose)
    id: str = ""
    type: ObjectType = field(default_factory=ObjectType)
    primitives: list[SolidPrimitive] = field(default_factory=list)
    primitive_poses: list[Pose] = field(default_factory=list)
    meshes: list[Mesh] = field(default_factory=list)
    mesh_poses: list[Pose] = field(default_factory=list)
    planes: list[Plane] = field(default_factory=list)
    plane_poses: list[Pose] = field(default_factory=list)
    subframe_names: list[str] = field(default_factory=list)
    subframe_poses: list[Pose] = field(default_factory=list)
    operation: bytes = b"\x00"


def _without(cls: type, name: str, dropped: tuple[str, ...]) -> type:
    """``cls`` without the fields ``dropped`` (same constants, defaults and checks)."""
    kept = [(f.name, f.type, field(default_factory=f.default_factory) if f.default is dataclasses.MISSING
             else field(default=f.default)) for f in dataclasses.fields(cls) if f.name not in dropped]  # fmt: skip
    constants = {k: v for k, v in vars(cls).items() if k.isupper()}
    return dataclasses.make_dataclass(name, kept, bases=(_Checked,), namespace=constants)


# moveit_msgs/CollisionObject before Humble: no ``pose`` (shapes are placed in the header frame), no subframes
CollisionObjectWithoutPose = _without(
    CollisionObject, "CollisionObjectWithoutPose", ("pose", "subframe_names", "subframe_poses")
)
