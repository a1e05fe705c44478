"""The one `main` of every node: init, spin, clean shutdown, and a one-line error for bad set-up."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """Spin ``make_node()`` until shutdown; a bad parameter, model or file exits 2 with one line."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
