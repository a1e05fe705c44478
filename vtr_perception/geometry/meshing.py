"""Occupancy grid -> triangle mesh (marching cubes), surface sampling, and mesh files in and out.

grid_to_mesh pads the grid with one voxel of empty space on every side so the surface
always closes, even where the object touches the cube's faces. Vertices come out in
canonical coordinates (voxel centres at (i + 0.5) / R - 0.5) or, given a Normalization,
in metric coordinates. Triangles wind counter-clockwise seen from outside (outward normals).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.voxels import Normalization
from vtr_perception.io_utils import atomic_write, atomic_write_text

SAVE_SUFFIXES = (".ply", ".obj")
CLUSTER_ABOVE = 3.0  # simplify_triangles merges vertices first when the mesh has this many times the budget
CLUSTER_CELL_EDGES = 0.65  # ... in cells of this many mean edges x sqrt(triangles / budget)


def grid_to_mesh(
    prob: np.ndarray,
    threshold: float = 0.4,
    normalization: Normalization | None = None,
    *,
    name: str = "reconstruction",
    color: tuple[float, float, float] = (0.7, 0.7, 0.7),
) -> MeshData:
    """The iso-surface ``prob == threshold`` (bool grids: their boundary) as a closed mesh.

    A grid with nothing at or above the threshold gives a MeshData with no vertices and no
    triangles (its ``validate()`` raises); callers that need a surface check ``len(mesh.triangles)``.
    """
    from skimage.measure import marching_cubes

    g = prob.detach().cpu().numpy() if hasattr(prob, "detach") else np.asarray(prob)
    if g.ndim != 3 or len(set(g.shape)) != 1:
        raise ValueError(f"expected a cubic (R, R, R) grid, got shape {g.shape}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if g.dtype == bool:
        g, level = g.astype(np.float32), 0.5
    else:
        g, level = g.astype(np.float32), float(threshold)
        if not np.isfinite(g).all():
            raise ValueError("the occupancy grid contains NaN or infinite values")
    if not (g >= level).any():
        return MeshData(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), name=name, color=color)
    r = g.shape[0]
    padded = np.pad(g, 1, mode="constant", constant_values=0.0)
    verts, faces, _, _ = marching_cubes(padded, level=level, allow_degenerate=False)
    # padded index p -> canonical (p - 1 + 0.5) / R - 0.5
    verts = (verts - 0.5) / r - 0.5
    # skimage winds faces clockwise from the high-valued side; flip to outward normals.
    faces = faces[:, ::-1]
    if normalization is not None:
        verts = normalization.to_metric(verts)
    return MeshData(verts.astype(np.float64), faces.astype(np.int64), name=name, color=color)


def simplify_triangles(
    vertices: np.ndarray, triangles: np.ndarray, max_triangles: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_triangles`` triangles of the same surface (Open3D quadric decimation).

    Marching cubes on a 32^3 grid gives 2k-10k small triangles, most of them on flat or gently
    curved patches; a few thousand carry the same shape at a fraction of the message size.
    Quadric decimation costs 2-3 us per input triangle, so a mesh more than ``CLUSTER_ABOVE`` times
    the budget first has its vertices merged in cells of ``CLUSTER_CELL_EDGES`` x its mean edge x
    sqrt(input / budget), which leaves about twice the budget. On 3.5x the budget that is 1.6x faster
    than quadric decimation alone, with a Chamfer distance to the full mesh of 0.15 voxels instead of
    0.13 (``python benchmarks/geometry.py``: ``simplify_1000`` in ``benchmarks/results/geometry_simplify.json``,
    5.2 vs 8.8 ms); thin parts may then meet at a vertex.
    Meshes already small enough (or ``max_triangles <= 0``) come back unchanged.
    """
    vertices, triangles = np.asarray(vertices, dtype=np.float64), np.asarray(triangles)
    if max_triangles <= 0 or len(triangles) <= max_triangles:
        return vertices, triangles
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                     o3d.utility.Vector3iVector(triangles.astype(np.int32)))  # fmt: skip
    if len(triangles) > CLUSTER_ABOVE * max_triangles:
        edge = float(np.linalg.norm(vertices[triangles[:, 0]] - vertices[triangles[:, 1]], axis=1).mean())
        if edge > 0:
            mesh = mesh.simplify_vertex_clustering(CLUSTER_CELL_EDGES * edge * np.sqrt(len(triangles) / max_triangles))
            mesh.remove_degenerate_triangles()
            mesh.remove_duplicated_triangles()
    if len(mesh.triangles) > max_triangles:
        mesh = mesh.simplify_quadric_decimation(int(max_triangles))
    mesh.remove_unreferenced_vertices()
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.triangles, dtype=np.int64)


def sample_surface(mesh: MeshData, n: int, *, seed: int = 0) -> np.ndarray:
    """(n, 3) points uniform by area on the mesh surface (deterministic for a seed); (0, 3) if it has no area."""
    if len(mesh.triangles) == 0 or n <= 0:
        return np.zeros((0, 3))
    tri = mesh.vertices[mesh.triangles]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = area.sum()
    if not np.isfinite(total) or total <= 0:
        return np.zeros((0, 3))
    rng = np.random.default_rng(seed)
    which = rng.choice(len(tri), size=n, p=area / total)
    u, v = rng.random(n), rng.random(n)
    outside = u + v > 1.0
    u[outside], v[outside] = 1.0 - u[outside], 1.0 - v[outside]
    t = tri[which]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])


def is_closed(mesh: MeshData, *, decimals: int = 9) -> bool:
    """Whether every edge is shared by exactly two triangles (after welding coincident vertices)."""
    if len(mesh.triangles) == 0:
        return False
    _, weld = np.unique(np.round(mesh.vertices, decimals), axis=0, return_inverse=True)
    t = weld.reshape(-1)[mesh.triangles]
    edges = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


def save_mesh(mesh: MeshData, path: str | Path) -> Path:
    """Write ``mesh`` to a .ply (binary, with vertex colours if any) or .obj file, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVE_SUFFIXES:
        allowed = ", ".join(SAVE_SUFFIXES)
        raise ValueError(f"cannot save mesh as {suffix or 'no suffix'!r} ({path}); use one of {allowed}")
    if len(mesh.triangles) == 0:
        raise ValueError(f"mesh {mesh.name!r} is empty; nothing to write to {path}")
    if suffix == ".obj":
        return atomic_write_text(path, _obj_text(mesh))
    import open3d as o3d

    def write(tmp: Path) -> None:
        if not o3d.io.write_triangle_mesh(str(tmp), mesh.to_open3d(), write_ascii=False):
            raise OSError(f"Open3D could not write {path}")

    return atomic_write(path, write)


def _obj_text(mesh: MeshData) -> str:
    lines = [f"# {mesh.name}: {len(mesh.vertices)} vertices, {len(mesh.triangles)} triangles"]
    if mesh.vertex_colors is not None:
        vc = np.asarray(mesh.vertex_colors, dtype=np.float64)
        rows = np.concatenate([mesh.vertices, vc], axis=1)
        lines += [f"v {x:.6f} {y:.6f} {z:.6f} {r:.4f} {g:.4f} {b:.4f}" for x, y, z, r, g, b in rows]
    else:
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.vertices]
    parts = mesh.parts or [np.arange(len(mesh.triangles))]
    for i, tri_idx in enumerate(parts):
        if mesh.parts:
            lines.append(f"o part_{i}")
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.triangles[np.asarray(tri_idx, dtype=np.int64)]]
    return "\n".join(lines) + "\n"


def load_mesh(path: str | Path, *, split_objects: bool = True) -> MeshData:
    """A validated mesh from .obj (``o`` groups kept as parts), .ply, .stl, .off, .gltf or .glb.

    Raises FileNotFoundError for a missing file and ValueError naming the file for an
    unsupported type, an empty mesh, NaN vertices or a degenerate shape.
    """
    # The file readers live in geometry/mesh_files.py; this adds validation.
    from vtr_perception.geometry.mesh_files import read_mesh_file

    path = Path(path)
    mesh = read_mesh_file(path, split_objects=split_objects)
    try:
        return mesh.validate()
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
