"""ShapeNet as users have it: ShapeNetCore meshes, ShapeNetVox32 binvox grids, ShapeNetRendering metadata.

Layouts read here:
- ShapeNetCore v2: ``<root>/<synset>/<model>/models/model_normalized.obj``
  (v1: ``<root>/<synset>/<model>/model.obj``) -- a mesh source for the cache;
- ShapeNetVox32: ``<root>/ShapeNetVox32/<synset>/<model>/model.binvox`` (read_shapenet_voxels);
- ShapeNetRendering: ``<root>/ShapeNetRendering/<synset>/<model>/rendering/rendering_metadata.txt``,
  one line per image: azimuth, elevation, in-plane rotation (degrees), distance ratio, fov.

ShapeNet is y up. Everything leaving this module is turned to z up by the rotation
+90 degrees about x, (x, y, z) -> (x, -z, y) (``Y_UP_TO_Z_UP``), for meshes and grids alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vtr_perception.data.binvox import read_binvox
from vtr_perception.data.sources.base import ObjectRecord, color_for
from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.mesh_files import read_obj

Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

SYNSET_NAMES: dict[str, str] = {
    "02691156": "airplane",
    "02828884": "bench",
    "02876657": "bottle",
    "02880940": "bowl",
    "02933112": "cabinet",
    "02958343": "car",
    "03001627": "chair",
    "03211117": "display",
    "03636649": "lamp",
    "03691459": "speaker",
    "03797390": "mug",
    "04090263": "rifle",
    "04256520": "sofa",
    "04379243": "table",
    "04401088": "telephone",
    "04530566": "watercraft",
}
MESH_NAMES = ("models/model_normalized.obj", "model.obj")


def grid_y_up_to_z_up(grid: np.ndarray) -> np.ndarray:
    """A cubic (x, y, z) grid of a y-up frame re-indexed in the z-up frame: new[i, j, k] = old[i, k, D-1-j]."""
    return np.ascontiguousarray(np.asarray(grid).transpose(0, 2, 1)[:, ::-1, :])


def read_shapenet_voxels(path: str | Path) -> np.ndarray:
    """A ShapeNetVox32 model.binvox as a bool grid indexed (x, y, z) in the z-up frame."""
    return grid_y_up_to_z_up(read_binvox(path).occupancy)


def read_rendering_metadata(path: str | Path) -> np.ndarray:
    """(N, 5) float array of ShapeNetRendering rendering_metadata.txt (az, el, in-plane, distance ratio, fov)."""
    path = Path(path)
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        data = np.asarray(rows, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read ShapeNet rendering metadata {path}: {exc}") from exc
    if data.ndim != 2 or data.shape[1] < 5:
        raise ValueError(f"{path}: expected 5 numbers per line, got shape {data.shape}")
    return data[:, :5]


class ShapeNetCoreSource:
    """ShapeNetCore meshes under ``root`` (v2 or v1 layout), category = synset name."""

    name = "shapenet"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise NotADirectoryError(f"shapenet: {self.root} is not a directory")
        self.spec = f"shapenet:{self.root}"

    def list_objects(self) -> list[ObjectRecord]:
        records = []
        for synset_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            synset = synset_dir.name
            for model_dir in sorted(p for p in synset_dir.iterdir() if p.is_dir()):
                mesh = next((model_dir / m for m in MESH_NAMES if (model_dir / m).is_file()), None)
                if mesh is None:
                    continue
                category = SYNSET_NAMES.get(synset, synset)
                records.append(
                    ObjectRecord("shapenet", f"{synset}/{model_dir.name}", model_dir.name, category, str(mesh), {})
                )
        if not records:
            raise ValueError(f"shapenet: no models found under {self.root} (expected <synset>/<model>/{MESH_NAMES[0]})")
        return records

    def load(self, record: ObjectRecord) -> MeshData:
        if record.path is None:
            raise ValueError(f"shapenet object {record.object_id!r} has no file path")
        mesh = read_obj(record.path, split_objects=False, name=record.name)
        mesh = MeshData(
            vertices=mesh.vertices @ Y_UP_TO_Z_UP.T,
            triangles=mesh.triangles,
            name=mesh.name,
            color=mesh.color if mesh.color != (0.7, 0.7, 0.7) else color_for(f"shapenet:{record.object_id}"),
            metadata={**mesh.metadata, "source": "shapenet", "object_id": record.object_id},
        )
        try:
            return mesh.validate()
        except ValueError as exc:
            raise ValueError(f"{record.path}: {exc}") from exc
