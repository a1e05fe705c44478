"""Closed triangle-mesh primitives in numpy, and their union as one multi-part MeshData.

Every primitive is watertight with outward-facing triangles, so a voxeliser that fills
each part's solid and takes the union (geometry/voxels.py) gets the intended shape even
where parts overlap. Shapes are built around the origin with z up; place them with
``translated``/``rotated`` and combine them with ``union``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.mesh import MeshData


@dataclass
class Solid:
    """One closed part: vertices (N, 3) and triangles (M, 3)."""

    vertices: np.ndarray
    triangles: np.ndarray

    def translated(self, offset: tuple[float, float, float] | np.ndarray) -> Solid:
        return Solid(self.vertices + np.asarray(offset, dtype=np.float64), self.triangles)

    def rotated(self, R: np.ndarray) -> Solid:
        return Solid(self.vertices @ np.asarray(R, dtype=np.float64).T, self.triangles)


def rotation_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF convention: R = Rz(yaw) @ Ry(pitch) @ Rx(roll), angles in radians."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    Rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    Ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    Rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def box(size: tuple[float, float, float], center: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Solid:
    """Axis-aligned box of ``size`` (x, y, z) centred at ``center``."""
    half = np.asarray(size, dtype=np.float64) / 2.0
    if np.any(half <= 0):
        raise ValueError(f"box size must be positive, got {tuple(size)}")
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    # corner index = 4*(x>0) + 2*(y>0) + (z>0); faces wound counter-clockwise seen from outside
    tris = np.array(
        [
            [0, 1, 3], [0, 3, 2],  # -x
            [4, 6, 7], [4, 7, 5],  # +x
            [0, 4, 5], [0, 5, 1],  # -y
            [2, 3, 7], [2, 7, 6],  # +y
            [0, 2, 6], [0, 6, 4],  # -z
            [1, 5, 7], [1, 7, 3],  # +z
        ]
    )  # fmt: skip
    return Solid(corners * half + np.asarray(center, dtype=np.float64), tris)


def lathe(profile: list[tuple[float, float]], *, segments: int = 24) -> Solid:
    """Solid of revolution about z of a closed (r, z) profile.

    The profile runs from a point on the axis (r = 0) to another point on the axis,
    counter-clockwise in the (r, z) half-plane (outward normals), e.g. a cylinder is
    [(0, 0), (r, 0), (r, h), (0, h)]. Interior points may not have r = 0.
    """
    prof = np.asarray(profile, dtype=np.float64)
    if len(prof) < 3 or prof[0, 0] != 0.0 or prof[-1, 0] != 0.0 or np.any(prof[1:-1, 0] <= 0.0):
        raise ValueError("lathe profile must start and end on the axis (r = 0) with r > 0 in between")
    theta = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring_dirs = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    vertices = [np.array([[0.0, 0.0, prof[0, 1]]])]
    rings = []
    start = 1
    for r, z in prof[1:-1]:
        rings.append(np.arange(start, start + segments))
        vertices.append(np.column_stack([r * ring_dirs, np.full(segments, z)]))
        start += segments
    top = start
    vertices.append(np.array([[0.0, 0.0, prof[-1, 1]]]))
    nxt = np.roll(np.arange(segments), -1)
    tris = []
    first = rings[0]
    tris.append(np.column_stack([np.zeros(segments, dtype=np.int64), first[nxt], first]))
    for a, b in zip(rings[:-1], rings[1:], strict=True):
        tris.append(np.column_stack([a, a[nxt], b[nxt]]))
        tris.append(np.column_stack([a, b[nxt], b]))
    last = rings[-1]
    tris.append(np.column_stack([last, last[nxt], np.full(segments, top)]))
    return Solid(np.concatenate(vertices), np.concatenate(tris).astype(np.int64))


def cylinder(radius: float, height: float, *, segments: int = 24) -> Solid:
    """Cylinder along z from z = 0 to z = height."""
    if radius <= 0 or height <= 0:
        raise ValueError(f"cylinder radius and height must be positive, got {radius}, {height}")
    return lathe([(0.0, 0.0), (radius, 0.0), (radius, height), (0.0, height)], segments=segments)


def frustum(r_bottom: float, r_top: float, height: float, *, segments: int = 24) -> Solid:
    """Truncated cone along z from z = 0 (radius r_bottom) to z = height (radius r_top)."""
    if min(r_bottom, r_top) <= 0 or height <= 0:
        raise ValueError(f"frustum radii and height must be positive, got {r_bottom}, {r_top}, {height}")
    return lathe([(0.0, 0.0), (r_bottom, 0.0), (r_top, height), (0.0, height)], segments=segments)


def sphere(radius: float, *, segments: int = 24) -> Solid:
    """Sphere centred at the origin."""
    phi = np.linspace(-np.pi / 2, np.pi / 2, segments // 2 + 1)
    profile = [(0.0, -radius)] + [(radius * np.cos(p), radius * np.sin(p)) for p in phi[1:-1]] + [(0.0, radius)]
    return lathe(profile, segments=segments)


def torus(major_radius: float, minor_radius: float, *, segments: int = 24, tube_segments: int = 12) -> Solid:
    """Torus about the z axis centred at the origin."""
    if not 0 < minor_radius < major_radius:
        raise ValueError(f"torus needs 0 < minor < major radius, got {minor_radius}, {major_radius}")
    u = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    v = np.linspace(0.0, 2.0 * np.pi, tube_segments, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    rr = major_radius + minor_radius * np.cos(vv)
    verts = np.stack([rr * np.cos(uu), rr * np.sin(uu), minor_radius * np.sin(vv)], axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(segments), np.arange(tube_segments), indexing="ij")
    a = i * tube_segments + j
    b = ((i + 1) % segments) * tube_segments + j
    c = ((i + 1) % segments) * tube_segments + (j + 1) % tube_segments
    d = i * tube_segments + (j + 1) % tube_segments
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return Solid(verts, tris.astype(np.int64))


def union(
    solids: list[Solid], *, name: str, color: tuple[float, float, float] = (0.7, 0.7, 0.7), metadata: dict | None = None
) -> MeshData:
    """One MeshData whose parts are the given solids (overlaps are resolved by the voxeliser)."""
    if not solids:
        raise ValueError(f"{name}: no parts to combine")
    vertices, triangles, parts = [], [], []
    v_off = t_off = 0
    for s in solids:
        vertices.append(s.vertices)
        triangles.append(s.triangles + v_off)
        parts.append(np.arange(t_off, t_off + len(s.triangles)))
        v_off += len(s.vertices)
        t_off += len(s.triangles)
    return MeshData(
        vertices=np.concatenate(vertices),
        triangles=np.concatenate(triangles),
        name=name,
        parts=parts,
        color=color,
        metadata=dict(metadata or {}),
    )


def prism(polygon: list[tuple[float, float]], depth: float) -> Solid:
    """A convex polygon in the xy-plane (counter-clockwise) extruded along z from 0 to ``depth``."""
    poly = np.asarray(polygon, dtype=np.float64)
    n = len(poly)
    if n < 3 or depth <= 0:
        raise ValueError(f"prism needs a polygon of >= 3 points and a positive depth, got {n} points, {depth}")
    edges = np.roll(poly, -1, axis=0) - poly
    if np.any(edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0] <= 0):
        raise ValueError("prism polygon must be convex and counter-clockwise")
    vertices = np.concatenate([np.column_stack([poly, np.zeros(n)]), np.column_stack([poly, np.full(n, depth)])])
    i = np.arange(n)
    j = (i + 1) % n
    fan = np.arange(1, n - 1)
    tris = [
        np.column_stack([np.zeros(n - 2, dtype=np.int64), fan + 1, fan]),  # bottom, facing -z
        np.column_stack([np.full(n - 2, n), n + fan, n + fan + 1]),  # top, facing +z
        np.column_stack([i, j, n + j]),
        np.column_stack([i, n + j, n + i]),
    ]
    return Solid(vertices, np.concatenate(tris).astype(np.int64))
