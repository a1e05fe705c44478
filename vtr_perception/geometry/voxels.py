"""The canonical cube and solid voxel occupancy: the one home of the object normalisation.

Canonical frame: centred on the object's bounding box, longest side scaled to 1, so the
object lies inside [-0.5, 0.5]^3 (z up, axes kept). A grid of resolution R covers that
cube; voxel (i, j, k) indexes (x, y, z) and its centre is ((i + 0.5) / R - 0.5, ...).

Occupancy uses Open3D's RaycastingScene.compute_occupancy, which counts ray crossings and
is only right for one closed, non-self-intersecting surface. pybullet_data's random
objects are unions of overlapping convex parts, so each part is voxelised on its own and
the grids are OR-ed (querying the whole mesh flips voxels where parts overlap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.mesh import MeshData

DEFAULT_RESOLUTION = 32


@dataclass(frozen=True)
class Normalization:
    """Metric <-> canonical map: ``canonical = (metric - center) * scale``."""

    center: np.ndarray
    scale: float

    def __post_init__(self) -> None:
        center = np.asarray(self.center, dtype=np.float64).reshape(3)
        if not np.isfinite(center).all() or not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"invalid normalization: center={center.tolist()} scale={self.scale}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "scale", float(self.scale))

    @classmethod
    def from_bounds(cls, vmin: np.ndarray, vmax: np.ndarray) -> Normalization:
        """Bounding-box centre to the origin, longest side to 1."""
        vmin = np.asarray(vmin, dtype=np.float64)
        vmax = np.asarray(vmax, dtype=np.float64)
        extent = float(np.max(vmax - vmin))
        if not np.isfinite(extent) or extent <= 1e-12:
            raise ValueError(f"cannot normalise a bounding box of extent {(vmax - vmin).tolist()}")
        return cls(center=(vmin + vmax) / 2.0, scale=1.0 / extent)

    @classmethod
    def of_mesh(cls, mesh: MeshData) -> Normalization:
        mesh.validate()
        return cls.from_bounds(*mesh.bounds)

    @classmethod
    def identity(cls) -> Normalization:
        return cls(center=np.zeros(3), scale=1.0)

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.center) * self.scale

    def to_metric(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) / self.scale + self.center

    def as_matrix(self) -> np.ndarray:
        """4x4 metric -> canonical (uniform scale, no rotation)."""
        T = np.eye(4)
        T[:3, :3] *= self.scale
        T[:3, 3] = -self.center * self.scale
        return T

    def mesh_to_canonical(self, mesh: MeshData) -> MeshData:
        return mesh.transformed(self.as_matrix())

    def to_dict(self) -> dict:
        return {"center": self.center.tolist(), "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> Normalization:
        try:
            return cls(center=np.asarray(d["center"], dtype=np.float64), scale=float(d["scale"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a normalization needs 'center' (3 numbers) and 'scale', got {d!r}") from exc


def voxel_centers(resolution: int = DEFAULT_RESOLUTION) -> np.ndarray:
    """(R, R, R, 3) canonical coordinates of the voxel centres; [i, j, k] = (x_i, y_j, z_k)."""
    _check_resolution(resolution)
    c = (np.arange(resolution) + 0.5) / resolution - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1)


def _check_resolution(resolution: int) -> None:
    if int(resolution) != resolution or resolution < 1:
        raise ValueError(f"voxel resolution must be a positive integer, got {resolution!r}")


def _occupancy_of_closed(vertices: np.ndarray, triangles: np.ndarray, points: np.ndarray, nsamples: int) -> np.ndarray:
    """Inside test of points against one closed surface (Open3D ray-crossing parity)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
        o3d.core.Tensor(np.ascontiguousarray(triangles, dtype=np.uint32)),
    )
    query = o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
    return scene.compute_occupancy(query, nsamples=nsamples).numpy() > 0.5


def voxelize(
    mesh: MeshData,
    resolution: int = DEFAULT_RESOLUTION,
    normalization: Normalization | None = None,
    *,
    nsamples: int = 1,
    by_part: bool = True,
) -> tuple[np.ndarray, Normalization]:
    """Solid occupancy (R, R, R) bool of ``mesh`` in the canonical cube, and the normalisation used.

    ``normalization`` maps the mesh's coordinates into the cube (default: its own bounding
    box, see Normalization.from_bounds); pass Normalization.identity() for a mesh already
    canonical. Each part (``mesh.parts``) is voxelised separately and the results OR-ed;
    ``by_part=False`` queries the whole mesh at once (only right for one closed surface;
    kept to show the difference). ``nsamples`` (odd) rays vote per point, for meshes
    whose surface rays might graze. Raises ValueError naming the mesh for empty,
    non-finite or degenerate meshes.
    """
    _check_resolution(resolution)
    if nsamples < 1 or nsamples % 2 == 0:
        raise ValueError(f"nsamples must be a positive odd number, got {nsamples}")
    mesh.validate()
    norm = normalization if normalization is not None else Normalization.from_bounds(*mesh.bounds)
    grid = np.zeros((resolution,) * 3, dtype=bool)
    parts = mesh.part_meshes() if by_part else [mesh]
    for part in parts:
        v = norm.to_canonical(part.vertices)
        if len(part.triangles) < 4:  # cannot enclose a volume
            continue
        # Only the voxel centres inside the part's bounding box can be inside the part.
        lo = np.clip(np.ceil((v.min(axis=0) + 0.5) * resolution - 0.5), 0, resolution).astype(int)
        hi = np.clip(np.floor((v.max(axis=0) + 0.5) * resolution - 0.5) + 1, 0, resolution).astype(int)
        if np.any(hi <= lo):
            continue
        axes = [(np.arange(a, b) + 0.5) / resolution - 0.5 for a, b in zip(lo, hi, strict=True)]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        inside = _occupancy_of_closed(v, part.triangles, points, nsamples)
        grid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] |= inside
    return grid, norm


def grid_to_points(grid: np.ndarray, normalization: Normalization | None = None, threshold: float = 0.5) -> np.ndarray:
    """(N, 3) centres of the voxels with ``grid >= threshold`` (bool grids: True), canonical or metric."""
    g = np.asarray(grid)
    if g.ndim != 3 or len(set(g.shape)) != 1:
        raise ValueError(f"expected a cubic (R, R, R) grid, got shape {g.shape}")
    occupied = g if g.dtype == bool else g >= threshold
    idx = np.argwhere(occupied)
    points = (idx + 0.5) / g.shape[0] - 0.5
    return normalization.to_metric(points) if normalization is not None else points
