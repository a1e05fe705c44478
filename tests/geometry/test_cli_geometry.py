import json
import re
from pathlib import Path

import numpy as np
import open3d as o3d
import pybullet_data
import pytest
from PIL import Image

from vtr_perception import cli
from vtr_perception.geometry.cameras import Intrinsics, transform_points
from vtr_perception.geometry.voxels import Normalization, voxel_centers

RANDOM_URDFS = Path(pybullet_data.getDataPath()) / "random_urdfs"


def run_cli(*argv) -> int:
    return cli.main([str(a) for a in argv])


def write_primitive(path: Path, kind: str) -> Path:
    if kind == "box":
        m = o3d.geometry.TriangleMesh.create_box(2.0, 1.0, 1.0)  # canonical: 1 x 0.5 x 0.5
    else:
        m = o3d.geometry.TriangleMesh.create_sphere(radius=0.3, resolution=30)
    m.translate((5.0, -2.0, 1.0))
    m.compute_triangle_normals()  # the STL writer needs them
    assert o3d.io.write_triangle_mesh(str(path), m)
    return path


def read_render(out: Path):
    rgb = np.asarray(Image.open(out / "rgb.png"))
    mask = np.asarray(Image.open(out / "mask.png"))
    depth = np.load(out / "depth.npy")
    camera = json.loads((out / "camera.json").read_text())
    return rgb, mask, depth, camera


def test_render_pybullet_object_writes_consistent_outputs(tmp_path, capsys):
    out = tmp_path / "view"
    assert run_cli("render", "--mesh", RANDOM_URDFS / "000" / "000.obj", "--azimuth", 40, "--elevation", 25,
                   "--size", 48, "--out", out) == 0  # fmt: skip
    rgb, mask, depth, camera = read_render(out)
    assert rgb.shape == (48, 48, 3) and mask.shape == (48, 48) and depth.shape == (48, 48)
    assert depth.dtype == np.float32
    on = mask == 255
    assert on.sum() > 20 and np.isfinite(depth[on]).all() and np.isnan(depth[~on]).all()
    assert (rgb[~on] == 255).all()
    K = Intrinsics.from_matrix(np.array(camera["K"]), camera["width"], camera["height"])
    T = np.array(camera["T_world_camera"])
    # back-projected surface points lie in the canonical cube of the normalised mesh
    points = transform_points(T, (K.pixel_rays() * depth[..., None])[on])
    assert np.abs(points).max() <= 0.5 + 1e-3
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["pixels_on_object"] == int(on.sum())


def test_render_primitive_box_depth_is_analytic(tmp_path):
    mesh = write_primitive(tmp_path / "box.ply", "box")
    out = tmp_path / "box_view"
    assert run_cli("render", "--mesh", mesh, "--azimuth", 0, "--elevation", 0, "--distance", 2.5, "--size", 33,
                   "--out", out) == 0  # fmt: skip
    _, mask, depth, camera = read_render(out)
    assert depth[16, 16] == pytest.approx(2.5 - 0.5, abs=1e-4)  # the +x face of the 1 x 0.5 x 0.5 box
    assert camera["width"] == camera["height"] == 33
    np.testing.assert_allclose(camera["normalization"]["center"], [6.0, -1.5, 1.5])


def test_voxelize_pybullet_parts_and_primitive_sphere(tmp_path):
    out = tmp_path / "g001.npy"
    assert run_cli("voxelize", "--mesh", RANDOM_URDFS / "001" / "001.obj", "--res", 16, "--out", out,
                   "--mesh-out", tmp_path / "g001.ply") == 0  # fmt: skip
    grid = np.load(out)
    info = json.loads(out.with_suffix(".json").read_text())
    assert grid.shape == (16, 16, 16) and grid.dtype == bool and grid.sum() == info["occupied"] > 0
    assert info["parts"] > 1
    Normalization.from_dict(info["normalization"])
    assert (tmp_path / "g001.ply").stat().st_size > 0

    sphere = write_primitive(tmp_path / "sphere.stl", "sphere")
    assert run_cli("voxelize", "--mesh", sphere, "--out", tmp_path / "s.npy") == 0
    grid = np.load(tmp_path / "s.npy")
    ball = np.linalg.norm(voxel_centers(32), axis=-1) < 0.5
    assert grid.shape == (32, 32, 32) and (grid & ball).sum() / (grid | ball).sum() > 0.9


@pytest.mark.parametrize(
    "argv,message",
    [
        (["render", "--mesh", "/no/such/mesh.obj", "--out", "OUT"], "not found: /no/such/mesh.obj"),
        (["voxelize", "--mesh", str(RANDOM_URDFS / "168" / "168.obj"), "--out", "OUT/g.npy"], "168.obj.*NaN"),
        (["render", "--mesh", str(RANDOM_URDFS / "000" / "000.obj"), "--size", "0", "--out", "OUT"], "--size"),
        (["render", "--mesh", str(RANDOM_URDFS / "000" / "000.obj"), "--distance", "0.01", "--out", "OUT"], "inside"),
        (["voxelize", "--mesh", str(RANDOM_URDFS / "000" / "000.obj"), "--out", "OUT/g.txt"], ".npy"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(message, err), err
