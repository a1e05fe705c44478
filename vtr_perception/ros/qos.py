"""QoS profiles used by the nodes, in one place.

Camera topics: a best-effort ("sensor_data") subscriber receives from both best-effort and
reliable publishers, while a reliable subscriber receives nothing from a best-effort camera
driver -- silently. So image inputs default to "sensor_data"; "reliable" is offered for
recorded bags and drivers that need it.
"""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

IMAGE_QOS_CHOICES = ("sensor_data", "reliable")


def image_qos(reliability: str = "sensor_data", *, depth: int = 5) -> QoSProfile:
    """QoS for image-like inputs (image, depth, mask, camera_info) from a parameter value."""
    if depth < 1:
        raise ValueError(f"QoS depth must be >= 1, got {depth}")
    if reliability == "sensor_data":
        profile = QoSProfile(depth=depth)
        profile.history = qos_profile_sensor_data.history
        profile.reliability = qos_profile_sensor_data.reliability
        profile.durability = qos_profile_sensor_data.durability
        return profile
    if reliability == "reliable":
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=depth,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE,
        )
    raise ValueError(f"image QoS must be one of {', '.join(IMAGE_QOS_CHOICES)}, got {reliability!r}")


def latched_qos(*, depth: int = 1) -> QoSProfile:
    """Reliable + transient local: a late subscriber (rviz) still gets the last ``depth`` messages.

    Subscribers must ask for transient local too to receive the stored messages.
    """
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )


def reliable_qos(*, depth: int = 10) -> QoSProfile:
    """The ROS default (reliable, volatile, keep last ``depth``) for outputs such as poses and diagnostics."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
