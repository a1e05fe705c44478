"""Any directory tree of mesh files as a source; an object's category is its parent directory's name."""

from __future__ import annotations

from pathlib import Path

from vtr_perception.data.sources.base import ObjectRecord, color_for
from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.mesh_files import MESH_SUFFIXES, read_mesh_file


class MeshDirSource:
    """Every .obj/.ply/.stl/.off/.gltf/.glb under ``root``; meshes are taken as z up, in their own units.

    An .obj's ``o`` objects are kept as parts only with ``split_objects`` (use it for
    convex decompositions; ordinary models' objects need not be closed on their own).
    """

    name = "meshdir"

    def __init__(self, root: str | Path, *, split_objects: bool = False) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise NotADirectoryError(f"meshdir: {self.root} is not a directory")
        self.split_objects = split_objects
        self.spec = f"meshdir:{self.root}"

    def list_objects(self) -> list[ObjectRecord]:
        files = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)
        records = []
        for path in files:
            rel = path.relative_to(self.root)
            object_id = rel.with_suffix("").as_posix()
            category = path.parent.name if path.parent != self.root else "mesh"
            records.append(ObjectRecord("meshdir", object_id, path.stem, category, str(path), {}))
        return records

    def load(self, record: ObjectRecord) -> MeshData:
        if record.path is None:
            raise ValueError(f"meshdir object {record.object_id!r} has no file path")
        mesh = read_mesh_file(record.path, split_objects=self.split_objects, name=record.name)
        try:
            mesh.validate()
        except ValueError as exc:
            raise ValueError(f"{record.path}: {exc}") from exc
        if mesh.color == (0.7, 0.7, 0.7) and mesh.vertex_colors is None:
            mesh.color = color_for(f"meshdir:{record.object_id}")
        mesh.metadata.update(source="meshdir", object_id=record.object_id)
        return mesh
