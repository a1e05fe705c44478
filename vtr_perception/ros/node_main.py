"""The one `main` of every node: init, spin, clean shutdown, and a one-line error for bad set-up.

rclpy's signal handlers (SIGINT and SIGTERM) shut the context down from under a running
callback: a publish then fails with ``RCLError: ... context is invalid``. An exception while
the context is shutting down is that race, not a fault, so the node exits 0 without a traceback.
"""

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
        if node is not None and not node.context.ok():  # a callback interrupted by shutdown
            return 0
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except Exception:
        if node is not None and not node.context.ok():  # e.g. a publish racing SIGINT/SIGTERM
            return 0
        raise
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
