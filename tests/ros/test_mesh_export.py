"""ros/mesh_export.py: what ~/save_meshes writes (PLYs in the object and world frames, poses.json) and refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from tests.ros.object_estimates import box_estimate
from vtr_perception.geometry.cameras import matrix_from_quaternion, transform_points
from vtr_perception.ros.mesh_export import POSES_FILE, SaveError, object_matrix, resolve_directory, save_meshes


def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    mesh = o3d.io.read_triangle_mesh(str(path))
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def test_save_writes_object_and_world_plys_and_poses(tmp_path):
    estimates = {3: box_estimate(3, offset=(0.01, 0.0, 0.0)), 8: box_estimate(8, position=(0.0, -0.2, 0.05)),
                 9: box_estimate(9, surface=False)}  # fmt: skip
    saved = save_meshes(estimates, str(tmp_path / "out"), frame_id="map", stamp_s=42.25)
    assert (saved.directory, saved.objects, saved.meshes) == (tmp_path / "out", 3, 2)
    assert sorted(p.name for p in saved.files) == sorted(
        ["object_3.ply", "object_3_world.ply", "object_8.ply", "object_8_world.ply", POSES_FILE]
    )
    assert not list((tmp_path / "out").glob(".*")), "a temporary file was left behind"

    scene = json.loads((tmp_path / "out" / POSES_FILE).read_text())
    assert (scene["frame_id"], scene["stamp"]) == ("map", 42.25)
    records = {r["id"]: r for r in scene["objects"]}
    assert sorted(records) == [3, 8, 9]
    for i in (3, 8):
        rec, est = records[i], estimates[i]
        assert (rec["frame_id"], rec["child_frame_id"], rec["views"]) == ("map", f"object_{i}", 3)
        T = np.array(rec["T_world_object"])
        np.testing.assert_allclose(T, object_matrix(est), atol=1e-12)
        np.testing.assert_allclose(matrix_from_quaternion(np.array(rec["quaternion_xyzw"])), T[:3, :3], atol=1e-9)
        np.testing.assert_allclose(rec["position"], T[:3, 3])
        np.testing.assert_allclose(rec["box_size"], [0.06, 0.04, 0.1], atol=1e-9)
        assert 0.0 <= rec["score"] <= 1.0
        local, local_tris = read_ply(tmp_path / "out" / rec["mesh_object"])
        world, world_tris = read_ply(tmp_path / "out" / rec["mesh_world"])
        assert len(local) == len(world) == rec["vertices"] > 0
        np.testing.assert_array_equal(local_tris, world_tris)
        np.testing.assert_allclose(transform_points(T, local), world, atol=1e-9)  # the world mesh is the posed one
        np.testing.assert_allclose(world, est.vertices, atol=1e-9)
    # the box centre: 1 cm along the object's x from its origin
    np.testing.assert_allclose(records[3]["box_center"], transform_points(object_matrix(estimates[3]),
                                                                          np.array([[0.01, 0.0, 0.0]]))[0])  # fmt: skip
    assert records[9]["mesh_object"] is None and records[9]["mesh_world"] is None
    assert records[9]["triangles"] == 0


def test_a_new_save_replaces_the_poses_file(tmp_path):
    save_meshes({1: box_estimate(1), 2: box_estimate(2)}, str(tmp_path), frame_id="world", stamp_s=1.0)
    save_meshes({2: box_estimate(2)}, str(tmp_path), frame_id="world", stamp_s=2.0)
    scene = json.loads((tmp_path / POSES_FILE).read_text())
    assert [r["id"] for r in scene["objects"]] == [2] and scene["stamp"] == 2.0


def test_an_empty_scene_is_refused_with_a_reason(tmp_path):
    with pytest.raises(SaveError, match="no objects to save"):
        save_meshes({}, str(tmp_path), frame_id="world", stamp_s=0.0)
    assert not list(tmp_path.iterdir())


def test_a_directory_that_cannot_be_made_is_refused_with_a_reason(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(SaveError, match=f"cannot write to {blocker / 'meshes'}"):
        save_meshes({1: box_estimate(1)}, str(blocker / "meshes"), frame_id="world", stamp_s=0.0)
    with pytest.raises(SaveError, match="empty"):
        save_meshes({1: box_estimate(1)}, " ", frame_id="world", stamp_s=0.0)


def test_directory_expands_home_and_resolves_relative_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_directory("~/.ros/meshes") == tmp_path / ".ros" / "meshes"
    monkeypatch.chdir(tmp_path)
    assert resolve_directory("meshes") == tmp_path / "meshes"
