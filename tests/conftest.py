"""Shared test set-up: isolate ROS traffic per run and keep torch to the machine's cores."""

from __future__ import annotations

import os
import random

# A random DDS domain and localhost-only discovery, so parallel runs on one machine never
# hear each other. Set before anything imports rclpy.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
