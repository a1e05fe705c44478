"""The environment of node processes we start: a private DDS domain on localhost, over UDP."""

from __future__ import annotations

import os
import random


def ros_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default os.environ) whose ROS graph never talks to other graphs.

    A random ROS_DOMAIN_ID unless one is set, localhost-only discovery, and Fast DDS over UDP:
    its shared-memory transport stalled image-sized messages on a loaded machine (poses and
    camera_info arrived seconds late in the node tests).
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    env.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "UDPv4")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
