"""Helpers for ROS tests: an isolated rclpy context, bounded spinning, child-process env.

Every test uses its own rclpy Context (never the global one), so tests do not share
nodes or executors, and the DDS domain / localhost-only discovery set in tests/conftest.py
is passed on to child processes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

REPO = Path(__file__).resolve().parents[2]
ROS_ENV_KEYS = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "RMW_IMPLEMENTATION")


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child process: this run's DDS isolation, the repo on PYTHONPATH."""
    env = dict(os.environ)
    missing = [k for k in ROS_ENV_KEYS[:2] if k not in env]
    assert not missing, f"tests/conftest.py should have set {missing}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


PYTHON = sys.executable


@contextlib.contextmanager
def isolated_node(
    name: str, *, args: list[str] | None = None, **node_kwargs
) -> Iterator[tuple[Node, SingleThreadedExecutor]]:
    """A node in its own context and executor, torn down on exit."""
    context = Context()
    rclpy.init(args=args, context=context)
    node = rclpy.create_node(name, context=context, **node_kwargs)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield node, executor
    finally:
        executor.remove_node(node)
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], *, timeout_s: float) -> bool:
    """Spin until ``done()`` is true or ``timeout_s`` passes; returns ``done()``."""
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return done()
