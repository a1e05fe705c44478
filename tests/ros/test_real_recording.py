"""benchmarks/real_recording.py on a tiny synthetic recording in the 7-Scenes / tsdf-fusion layout.

Keeps the conversion working without the real data: the frames become a bag the player reads, the
world is turned so the floor is horizontal, and bad input is one error line.
"""

from __future__ import annotations

import json

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


def _depth_to_scene(T: np.ndarray, rays: np.ndarray, box: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Depth (m along the optical axis) to the floor z = 0 and an axis-aligned box standing on it."""
    dirs = rays @ T[:3, :3].T
    origin = T[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dirs[..., 2] < 0, -origin[2] / dirs[..., 2], np.inf)
        if box is not None:
            t1, t2 = (box[0] - origin) / dirs, (box[1] - origin) / dirs
            near, far = np.minimum(t1, t2).max(axis=-1), np.maximum(t1, t2).min(axis=-1)
            t = np.where((far >= near) & (near > 0), np.minimum(t, near), t)
    return t  # the rays have unit optical-axis component, so the ray parameter is the depth


def write_recording(
    root, frames: int = 5, tilt_deg: float = 70.0, box=None, size=(W, H, F), reach: float = 1.0
) -> np.ndarray:
    """Cameras ``reach`` above a floor (z = 0) and as far out, looking down at it from around (and at
    ``box``, (lo, hi), where given); poses in a world turned by ``tilt_deg`` about x, as a SLAM system's
    first-frame world is. Returns that turn."""
    w, h, f = size
    root.mkdir()
    np.savetxt(root / "camera-intrinsics.txt", [[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    R0 = np.eye(4)
    R0[:3, :3] = _rotation_x(tilt_deg)
    v, u = np.mgrid[0:h, 0:w]
    rays = np.stack([(u - w / 2) / f, (v - h / 2) / f, np.ones((h, w))], axis=-1)
    for k in range(frames):
        a = 2 * np.pi * k / frames
        T = look_at(reach * np.array([np.cos(a), np.sin(a), 1.0]), np.array([0.1 * np.cos(a), 0.0, 0.0]))
        depth_m = _depth_to_scene(T, rays, box)
        depth_mm = np.where(depth_m < 5.0, 1000 * depth_m, 0).astype(np.uint16)
        stem = root / f"frame-{k:06d}"
        Image.fromarray(depth_mm).save(f"{stem}.depth.png")
        Image.fromarray(np.full((h, w, 3), 40 * k, np.uint8)).save(f"{stem}.color.png")
        np.savetxt(f"{stem}.pose.txt", R0 @ T)
    return R0[:3, :3]


def test_frames_become_a_bag_the_player_reads(tmp_path):
    write_recording(tmp_path / "rec")
    assert main(["convert", str(tmp_path / "rec"), str(tmp_path / "bag"), "--step", "1", "--rate", "4"]) == 0
    assert check_bag(tmp_path / "bag") == 5 * 4
    messages = list(read_bag(tmp_path / "bag"))
    names = ("/image", "/depth", "/camera_info", "/camera_pose")
    counts = {name: sum(n == name for n, _, _ in messages) for name in names}
    assert counts == dict.fromkeys(names, 5)
    depth = [m for n, _, m in messages if n == "/depth"]
    assert depth[0].encoding == "16UC1" and (depth[0].width, depth[0].height) == (W, H)
    stamps = [conv.stamp_to_seconds(m.header.stamp) for n, _, m in messages if n == "/image"]
    np.testing.assert_allclose(np.diff(stamps), 0.25)
    rec = load_recording(tmp_path / "rec")
    pose = conv.pose_to_matrix(next(m for n, _, m in messages if n == "/camera_pose"))
    np.testing.assert_allclose(pose, rec.T_world_camera[0], atol=1e-6)
    raw = np.asarray(Image.open(tmp_path / "rec" / "frame-000000.depth.png"))
    np.testing.assert_allclose(conv.image_to_depth(depth[0]), np.where(raw > 0, raw / 1000.0, np.nan), atol=1e-6)


def test_the_world_is_turned_so_the_floor_is_horizontal(tmp_path):
    R0 = write_recording(tmp_path / "rec", tilt_deg=70.0)
    rec = load_recording(tmp_path / "rec")
    up = rec.R_gravity @ R0 @ np.array([0.0, 0.0, 1.0])  # the true up in the turned world
    assert np.degrees(np.arccos(np.clip(up[2], -1, 1))) < 1.0
    heights = rec.T_world_camera[:, 2, 3]
    assert np.ptp(heights) < 1e-3  # every camera as high above the floor: the same height once level


def test_bad_input_is_one_error_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "bag")]) == 2
    assert "no camera-intrinsics.txt" in capsys.readouterr().err
    write_recording(tmp_path / "rec", frames=2)
    (tmp_path / "exists").mkdir()
    assert main(["convert", str(tmp_path / "rec"), str(tmp_path / "exists"), "--step", "1"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_box_on_the_floor_is_one_track_standing_on_it(tmp_path):
    """The whole `run` path (turned world, pipeline with the shipped model, labels, JSON): one box, one track."""
    pytest.importorskip("matplotlib", reason="the run's picture needs the development set (make setup)")
    lo, hi = np.array([-0.08, -0.06, 0.0]), np.array([0.08, 0.06, 0.12])
    R0 = write_recording(tmp_path / "rec", frames=6, box=(lo, hi), size=(320, 240, 277.0), reach=0.5)
    rec = load_recording(tmp_path / "rec")
    centre = rec.R_gravity @ R0 @ (0.5 * (lo + hi))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"name": "box", "xy": centre[:2].tolist(), "half_xy": [0.08, 0.08]}]))
    out = tmp_path / "result.json"
    assert main(["run", str(tmp_path / "rec"), "--step", "1", "--objects", str(labels), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    summary = result["summary"]
    assert summary["frames_used"] == 6
    assert summary["tracks_per_object"] == {"box": [result["tracks"][0]["id"]]}, result["tracks"]
    assert summary["tracks_off_labelled_objects"] == []
    assert abs(summary["table_z"] - centre[2] + 0.06) < 0.01  # the floor, 6 cm under the box's centre
    assert out.with_suffix(".png").exists()
