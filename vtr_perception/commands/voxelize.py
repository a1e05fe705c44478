"""`vtr-perception voxelize`: solid occupancy of a mesh file in its canonical cube."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vtr_perception.geometry.voxels import DEFAULT_RESOLUTION


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Voxelise a mesh file: the mesh is normalised into the canonical cube (bounding-box centre at the "
        "origin, longest side 1) and its solid occupancy computed part by part (an .obj's o-groups are parts). "
        "Writes the bool (R, R, R) grid, voxel (i, j, k) = (x, y, z), and beside it a .json with the "
        "normalisation (canonical = (metric - center) * scale)."
    )
    parser.add_argument("--mesh", required=True, help="mesh file (.obj with o-groups as parts, .ply, .stl, ...)")
    parser.add_argument("--res", type=int, default=DEFAULT_RESOLUTION, help="grid resolution (default: 32)")
    parser.add_argument("--out", required=True, help="output .npy file; the normalisation goes to <out>.json")
    parser.add_argument(
        "--mesh-out", default=None, help="also write the grid's marching-cubes mesh in the input's units (.ply or .obj)"
    )


def run(args: argparse.Namespace) -> int:
    from vtr_perception.commands.render import write_npy
    from vtr_perception.geometry.meshing import grid_to_mesh, load_mesh, save_mesh
    from vtr_perception.geometry.voxels import voxelize
    from vtr_perception.io_utils import atomic_write_json

    if args.res < 1:
        raise ValueError(f"--res must be a positive integer, got {args.res}")
    out = Path(args.out)
    if out.suffix != ".npy":
        raise ValueError(f"--out must be a .npy file, got {out}")
    mesh = load_mesh(args.mesh)
    grid, norm = voxelize(mesh, args.res)
    write_npy(out, grid)
    info = {
        "mesh": str(args.mesh),
        "resolution": args.res,
        "occupied": int(grid.sum()),
        "parts": len(mesh.parts) if mesh.parts else 1,
        "normalization": norm.to_dict(),
    }
    atomic_write_json(out.with_suffix(".json"), info)
    if args.mesh_out:
        save_mesh(grid_to_mesh(grid, normalization=norm, name=mesh.name), args.mesh_out)
    print(json.dumps({"out": str(out), **{k: info[k] for k in ("resolution", "occupied", "parts")}}))
    return 0
