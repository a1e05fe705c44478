"""Read Wavefront .obj files (with ``o`` objects as parts and the .mtl diffuse colour) and other mesh files.

pybullet_data's random objects are unions of convex hulls, one ``o`` object each; the
voxeliser needs them as separate parts (see geometry/mesh.py). Other formats (.ply, .stl,
.off, .gltf) go through Open3D and come back as one part.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from vtr_perception.geometry.mesh import MeshData

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".gltf", ".glb")


def _face_indices(tokens: list[str], n_vertices: int) -> list[int]:
    out = []
    for tok in tokens:
        i = int(tok.split("/", 1)[0])
        out.append(i - 1 if i > 0 else n_vertices + i)
    return out


def read_mtl_colors(path: Path) -> dict[str, tuple[float, float, float]]:
    """Material name -> diffuse colour (Kd) from a .mtl file; missing or unreadable files give {}."""
    colors: dict[str, tuple[float, float, float]] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return colors
    current = None
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "newmtl" and len(parts) > 1:
            current = parts[1]
        elif parts[0] == "Kd" and current is not None and len(parts) >= 4:
            try:
                colors[current] = tuple(float(x) for x in parts[1:4])  # type: ignore[assignment]
            except ValueError:
                pass
    return colors


def read_obj(path: str | Path, *, split_objects: bool = True, name: str | None = None) -> MeshData:
    """Triangle mesh of a .obj file; polygons are fan-triangulated.

    With ``split_objects`` each ``o`` object becomes a part (empty ones dropped). The
    mesh colour is the Kd of the material used by most faces, if the .mtl is readable.
    Raises ValueError naming the file when it cannot be parsed or holds no faces.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ValueError(f"cannot read mesh file {path}: {exc}") from exc
    vertices: list[list[float]] = []
    triangles: list[list[int]] = []
    part_of_triangle: list[int] = []
    part = 0
    material_faces: Counter[str] = Counter()
    material = None
    mtllibs: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line[0] == "#":
            continue
        tokens = line.split()
        if not tokens:
            continue
        tag = tokens[0]
        try:
            if tag == "v":
                vertices.append([float(tokens[1]), float(tokens[2]), float(tokens[3])])
            elif tag == "f":
                idx = _face_indices(tokens[1:], len(vertices))
                for k in range(1, len(idx) - 1):
                    triangles.append([idx[0], idx[k], idx[k + 1]])
                    part_of_triangle.append(part)
                if material is not None:
                    material_faces[material] += len(idx) - 2
            elif tag == "o" and split_objects:
                part += 1
            elif tag == "usemtl" and len(tokens) > 1:
                material = tokens[1]
            elif tag == "mtllib" and len(tokens) > 1:
                mtllibs.append(line.split(None, 1)[1].strip())
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{path}:{lineno}: cannot parse {tag!r} line: {line.strip()[:80]}") from exc
    if not vertices or not triangles:
        raise ValueError(f"mesh file {path} has no faces ({len(vertices)} vertices, {len(triangles)} triangles)")
    tri = np.asarray(triangles, dtype=np.int64)
    if tri.min() < 0 or tri.max() >= len(vertices):
        raise ValueError(f"mesh file {path} has face indices outside its {len(vertices)} vertices")
    part_ids = np.asarray(part_of_triangle)
    parts = [np.flatnonzero(part_ids == p) for p in np.unique(part_ids)]
    color = (0.7, 0.7, 0.7)
    if material_faces and mtllibs:
        colors: dict[str, tuple[float, float, float]] = {}
        for lib in mtllibs:
            colors.update(read_mtl_colors(path.parent / lib))
        for mat, _ in material_faces.most_common():
            if mat in colors:
                color = colors[mat]
                break
    return MeshData(
        vertices=np.asarray(vertices, dtype=np.float64),
        triangles=tri,
        name=name or path.stem,
        parts=parts if len(parts) > 1 else None,
        color=color,
        metadata={"path": str(path)},
    )


def read_mesh_file(path: str | Path, *, split_objects: bool = True, name: str | None = None) -> MeshData:
    """Any supported mesh file: .obj by the reader above, the rest through Open3D (one part)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return read_obj(path, split_objects=split_objects, name=name)
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f"unsupported mesh file type {suffix!r} ({path}); expected one of {', '.join(MESH_SUFFIXES)}")
    import open3d as o3d

    mesh = o3d.io.read_triangle_mesh(str(path))
    vertices = np.asarray(mesh.vertices)
    triangles = np.asarray(mesh.triangles)
    if len(vertices) == 0 or len(triangles) == 0:
        raise ValueError(f"mesh file {path} has no faces (unreadable or empty)")
    vertex_colors = np.asarray(mesh.vertex_colors) if mesh.has_vertex_colors() else None
    color = tuple(float(c) for c in vertex_colors.mean(axis=0)) if vertex_colors is not None else (0.7, 0.7, 0.7)
    return MeshData(
        vertices=vertices.copy(),
        triangles=triangles.copy(),
        name=name or path.stem,
        color=color,  # type: ignore[arg-type]
        vertex_colors=vertex_colors.copy() if vertex_colors is not None else None,
        metadata={"path": str(path)},
    )
