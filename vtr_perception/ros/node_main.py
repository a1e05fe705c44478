"""The one `main` of every node: init, spin, clean shutdown, and a one-line error for bad set-up.

rclpy's signal handlers (SIGINT and SIGTERM) shut the context down from under a running
callback: a publish then fails with ``RCLError: ... context is invalid``. SIGINT also raises
KeyboardInterrupt wherever Python code runs next, which may be inside rclpy's C++ taking a message;
that surfaces as ``RuntimeError: Unable to convert call argument '0' to Python object`` while the
context is still ok (rclpy shuts it down from another thread). An exception after a shutdown signal
or while the context is shutting down is that race, not a fault, so the node exits 0 without a
traceback.

After a clean shutdown or a one-line error the process ends without the interpreter's finalization:
its garbage collection of the model, Open3D and DDS objects alone took over a second on a loaded
2-core machine, and a node must be gone within 2 s of SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

import rclpy
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """Spin ``make_node()`` until shutdown, then end the process (0); a bad parameter, model or file ends
    it with status 2 and one line. Only an unexpected error returns, as its traceback."""
    stopping = _note_shutdown_signals()
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    code = 0
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        if not stopping.is_set() and (node is None or node.context.ok()):  # not interrupted by shutdown
            print(f"{name}: error: {exc}", file=sys.stderr)
            code = 2
    except Exception:
        if not stopping.is_set() and (node is None or node.context.ok()):  # not racing SIGINT/SIGTERM
            raise
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    end_process(code)
    return code


def _note_shutdown_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM. The Python handlers go in before ``rclpy.init``, whose own
    handlers then run first and chain to them; SIGINT still raises KeyboardInterrupt as before."""
    stopping = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        stopping.set()
        raise KeyboardInterrupt

    def on_sigterm(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigterm)
    return stopping


def end_process(code: int) -> None:
    """Flush the logs and output and end the process now, skipping the interpreter's finalization."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
