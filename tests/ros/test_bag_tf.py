"""A bag's TF tree (ros/bag_tf.py): chains, static and interpolated edges, and what it cannot know."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")

from vtr_perception.geometry.cameras import camera_from_angles  # noqa: E402
from vtr_perception.ros.bag_tf import TransformTree  # noqa: E402
from vtr_perception.ros.pose_history import interpolate_pose  # noqa: E402


def _translation(x: float, y: float, z: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, 3] = [x, y, z]
    return T


def _tree() -> tuple[TransformTree, list[np.ndarray]]:
    tree = TransformTree(max_gap_s=1.0)
    tree.add("world", "base", 0.0, _translation(1.0, 0.0, 0.0), static=True)
    poses = [camera_from_angles(a, 30.0, 0.6, target=np.zeros(3)) for a in (0.0, 20.0)]
    for stamp, T in zip((10.0, 10.5), poses, strict=True):
        tree.add("base", "camera_link", stamp, T, static=False)
    tree.add("/camera_link", "optical", 0.0, _translation(0.0, 0.02, 0.0), static=True)  # a leading slash is ignored
    return tree, poses


def test_lookup_chains_static_and_interpolated_edges():
    tree, poses = _tree()
    expected = _translation(1.0, 0.0, 0.0) @ interpolate_pose(poses[0], poses[1], 0.5) @ _translation(0, 0.02, 0)
    np.testing.assert_allclose(tree.lookup("world", "optical", 10.25), expected, atol=1e-9)
    np.testing.assert_allclose(tree.lookup("optical", "world", 10.25), np.linalg.inv(expected), atol=1e-9)
    np.testing.assert_allclose(tree.lookup("base", "base", 3.0), np.eye(4))
    assert tree.frames == {"world", "base", "camera_link", "optical"}


def test_lookup_finds_nothing_outside_the_recorded_times_or_across_trees():
    tree, _ = _tree()
    assert tree.lookup("world", "optical", 9.0) is None  # before the first dynamic transform
    assert tree.lookup("world", "optical", 12.0) is None  # after the last
    tree.add("map", "other", 0.0, np.eye(4), static=True)
    assert tree.lookup("world", "other", 10.0) is None
    assert tree.lookup("world", "unknown_frame", 10.0) is None
