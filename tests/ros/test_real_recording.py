"""benchmarks/real_recording.py on a tiny synthetic recording in the 7-Scenes / tsdf-fusion layout.

Keeps the conversion working without the real data: the frames become a bag the player reads, the
world is turned so the floor is horizontal, and bad input is one error line.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

from PIL import Image  # noqa: E402

from benchmarks.real_recording import load_recording, main  # noqa: E402
from vtr_perception.geometry.cameras import look_at  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.bag import check_bag, read_bag  # noqa: E402

pytestmark = pytest.mark.ros

W, H, F = 64, 48, 60.0


def _rotation_x(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def write_recording(root, frames: int = 5, tilt_deg: float = 70.0) -> np.ndarray:
    """Cameras 1 m above a floor (z = 0), looking down at it from around; poses in a world turned by
    ``tilt_deg`` about x, as a SLAM system's first-frame world is. Returns that turn."""
    root.mkdir()
    np.savetxt(root / "camera-intrinsics.txt", [[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]])
    R0 = np.eye(4)
    R0[:3, :3] = _rotation_x(tilt_deg)
    v, u = np.mgrid[0:H, 0:W]
    rays = np.stack([(u - W / 2) / F, (v - H / 2) / F, np.ones((H, W))], axis=-1)
    for k in range(frames):
        a = 2 * np.pi * k / frames
        T = look_at(np.array([np.cos(a), np.sin(a), 1.0]), np.array([0.1 * np.cos(a), 0.0, 0.0]))
        dirs = rays @ T[:3, :3].T
        depth_m = -T[2, 3] / np.minimum(dirs[..., 2], -1e-6)  # ray length along the optical axis to z = 0
        depth_mm = np.where(depth_m < 5.0, 1000 * depth_m, 0).astype(np.uint16)
        stem = root / f"frame-{k:06d}"
        Image.fromarray(depth_mm).save(f"{stem}.depth.png")
        Image.fromarray(np.full((H, W, 3), 40 * k, np.uint8)).save(f"{stem}.color.png")
        np.savetxt(f"{stem}.pose.txt", R0 @ T)
    return R0[:3, :3]


def test_frames_become_a_bag_the_player_reads(tmp_path):
    write_recording(tmp_path / "rec")
    assert main(["convert", str(tmp_path / "rec"), str(tmp_path / "bag"), "--step", "1", "--rate", "4"]) == 0
    assert check_bag(tmp_path / "bag") == 5 * 4
    messages = list(read_bag(tmp_path / "bag"))
    counts = {name: sum(n == name for n, _, _ in messages) for name in ("image", "depth", "camera_info", "camera_pose")}
    assert counts == {"image": 5, "depth": 5, "camera_info": 5, "camera_pose": 5}
    depth = [m for n, _, m in messages if n == "depth"]
    assert depth[0].encoding == "16UC1" and (depth[0].width, depth[0].height) == (W, H)
    stamps = [conv.stamp_to_seconds(m.header.stamp) for n, _, m in messages if n == "image"]
    np.testing.assert_allclose(np.diff(stamps), 0.25)
    rec = load_recording(tmp_path / "rec")
    pose = conv.pose_to_matrix(next(m for n, _, m in messages if n == "camera_pose"))
    np.testing.assert_allclose(pose, rec.T_world_camera[0], atol=1e-6)
    raw = np.asarray(Image.open(tmp_path / "rec" / "frame-000000.depth.png"))
    np.testing.assert_allclose(conv.image_to_depth(depth[0]), np.where(raw > 0, raw / 1000.0, np.nan), atol=1e-6)


def test_the_world_is_turned_so_the_floor_is_horizontal(tmp_path):
    R0 = write_recording(tmp_path / "rec", tilt_deg=70.0)
    rec = load_recording(tmp_path / "rec")
    up = rec.R_gravity @ R0 @ np.array([0.0, 0.0, 1.0])  # the true up in the turned world
    assert np.degrees(np.arccos(np.clip(up[2], -1, 1))) < 1.0
    heights = rec.T_world_camera[:, 2, 3]
    assert np.ptp(heights) < 1e-3  # every camera 1 m above the floor: the same height once level


def test_bad_input_is_one_error_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "bag")]) == 2
    assert "no camera-intrinsics.txt" in capsys.readouterr().err
    write_recording(tmp_path / "rec", frames=2)
    (tmp_path / "exists").mkdir()
    assert main(["convert", str(tmp_path / "rec"), str(tmp_path / "exists"), "--step", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
