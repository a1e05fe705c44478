"""`vtr-perception render`: one object-centred view of a mesh file (rgb, depth, mask, camera)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vtr_perception.geometry.cameras import RENDER_DISTANCE, RENDER_FOV_DEG


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Render a mesh file from one viewpoint. The mesh is first normalised into the canonical cube "
        "(bounding-box centre at the origin, longest side 1, z up), so --distance is in cube units and the "
        "world frame of camera.json is that canonical frame. Writes rgb.png, depth.npy (float32 depth along "
        "the optical axis, NaN where nothing is hit), mask.png (255 on the object) and camera.json "
        "(K 3x3, T_world_camera 4x4 of the optical frame: z forward, x right, y down)."
    )
    parser.add_argument("--mesh", required=True, help="mesh file (.obj with o-groups as parts, .ply, .stl, ...)")
    parser.add_argument("--azimuth", type=float, default=30.0, help="degrees about world z from +x (default: 30)")
    parser.add_argument("--elevation", type=float, default=20.0, help="degrees above the xy-plane (default: 20)")
    parser.add_argument(
        "--distance", type=float, default=RENDER_DISTANCE,
        help=f"camera distance from the cube centre in cube units (default: {RENDER_DISTANCE})",
    )  # fmt: skip
    parser.add_argument("--size", type=int, default=128, help="image width = height in pixels (default: 128)")
    parser.add_argument(
        "--fov", type=float, default=RENDER_FOV_DEG, help=f"horizontal field of view, deg (default: {RENDER_FOV_DEG})"
    )
    parser.add_argument("--out", required=True, help="output directory (created)")


def write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    from vtr_perception.io_utils import atomic_write

    atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def write_npy(path: Path, array: np.ndarray) -> None:
    from vtr_perception.io_utils import atomic_write

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    atomic_write(path, write)


def run(args: argparse.Namespace) -> int:
    from vtr_perception.geometry.cameras import Intrinsics, camera_from_angles
    from vtr_perception.geometry.meshing import load_mesh
    from vtr_perception.geometry.renderer import Renderer
    from vtr_perception.geometry.voxels import Normalization
    from vtr_perception.io_utils import atomic_write_json

    if args.size < 1:
        raise ValueError(f"--size must be a positive number of pixels, got {args.size}")
    if not np.isfinite(args.distance) or args.distance <= 0:
        raise ValueError(f"--distance must be positive, got {args.distance}")
    mesh = load_mesh(args.mesh)
    norm = Normalization.from_bounds(*mesh.bounds)
    canonical = norm.mesh_to_canonical(mesh)
    intrinsics = Intrinsics.from_fov(args.size, args.size, args.fov)
    T = camera_from_angles(args.azimuth, args.elevation, args.distance)
    result = Renderer([canonical]).render(intrinsics, T)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a directory")
    write_png(out / "rgb.png", result.rgb)
    write_npy(out / "depth.npy", result.depth)
    write_png(out / "mask.png", np.where(result.mask > 0, 255, 0).astype(np.uint8))
    atomic_write_json(
        out / "camera.json",
        {
            "K": intrinsics.K.tolist(),
            "T_world_camera": T.tolist(),
            "width": intrinsics.width,
            "height": intrinsics.height,
            "azimuth_deg": args.azimuth,
            "elevation_deg": args.elevation,
            "distance": args.distance,
            "frame": "world = the mesh's canonical cube (see normalization); camera = optical frame",
            "normalization": norm.to_dict(),
            "mesh": str(args.mesh),
        },
    )
    hit = int((result.mask > 0).sum())
    print(json.dumps({"out": str(out), "pixels_on_object": hit, "depth_min": float(np.nanmin(result.depth))
                      if hit else None}))  # fmt: skip
    return 0
