"""The triangle-mesh value passed between mesh sources, renderer, voxeliser and meshing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class MeshData:
    """A triangle mesh with optional convex-part structure and appearance.

    ``parts`` lists, per part (e.g. the ``o`` groups of a pybullet_data random object),
    the indices of its triangles; None means the mesh is one part. Voxelisation takes
    the union of the parts' solids, because querying overlapping parts as one mesh
    counts ray crossings wrongly.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    name: str = "mesh"
    parts: list[np.ndarray] | None = None
    color: tuple[float, float, float] = (0.7, 0.7, 0.7)
    vertex_colors: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.triangles = np.asarray(self.triangles, dtype=np.int64).reshape(-1, 3)

    def validate(self) -> MeshData:
        """Raise ValueError naming the mesh if it cannot be rendered or voxelised."""
        if len(self.vertices) == 0 or len(self.triangles) == 0:
            raise ValueError(
                f"mesh {self.name!r} is empty ({len(self.vertices)} vertices, {len(self.triangles)} triangles)"
            )
        if not np.isfinite(self.vertices).all():
            bad = int((~np.isfinite(self.vertices)).any(axis=1).sum())
            raise ValueError(f"mesh {self.name!r} has {bad} vertices that are NaN or infinite")
        if self.triangles.min() < 0 or self.triangles.max() >= len(self.vertices):
            raise ValueError(f"mesh {self.name!r} has triangle indices outside its {len(self.vertices)} vertices")
        extent = self.vertices.max(axis=0) - self.vertices.min(axis=0)
        if np.sort(extent)[-2] <= 1e-9:
            raise ValueError(f"mesh {self.name!r} is degenerate (bounding box extent {extent.tolist()})")
        return self

    def part_meshes(self) -> list[MeshData]:
        """One MeshData per part (the whole mesh when it has no parts)."""
        if not self.parts:
            return [self]
        out = []
        for i, tri_idx in enumerate(self.parts):
            tris = self.triangles[np.asarray(tri_idx, dtype=np.int64)]
            used, inverse = np.unique(tris.reshape(-1), return_inverse=True)
            out.append(
                replace(
                    self,
                    vertices=self.vertices[used],
                    triangles=inverse.reshape(-1, 3),
                    parts=None,
                    vertex_colors=None,
                    name=f"{self.name}#part{i}",
                )
            )
        return out

    def transformed(self, T: np.ndarray) -> MeshData:
        """The mesh moved by a 4x4 transform (may include uniform scale)."""
        T = np.asarray(T, dtype=np.float64)
        return replace(self, vertices=self.vertices @ T[:3, :3].T + T[:3, 3])

    def to_open3d(self):
        """An open3d.geometry.TriangleMesh (imported lazily: callers that never need Open3D skip it)."""
        import open3d as o3d

        m = o3d.geometry.TriangleMesh(
            o3d.utility.Vector3dVector(self.vertices),
            o3d.utility.Vector3iVector(self.triangles.astype(np.int32)),
        )
        if self.vertex_colors is not None:
            m.vertex_colors = o3d.utility.Vector3dVector(np.asarray(self.vertex_colors, dtype=np.float64))
        return m

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)
