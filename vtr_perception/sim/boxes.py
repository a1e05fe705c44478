"""Closed box meshes and the simulated table's size: what the table-top scenes and the room are built from."""

from __future__ import annotations

import numpy as np

from vtr_perception.geometry.mesh import MeshData

TABLE_SIZE = (0.9, 0.7, 0.04)  # metres: x, y, thickness
TABLE_COLOR = (0.55, 0.45, 0.35)


def box_mesh(size: tuple[float, float, float], center: tuple[float, float, float], name: str, color) -> MeshData:
    sx, sy, sz = (s / 2.0 for s in size)
    corners = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)]) + np.asarray(center)
    # outward-facing triangles of the 8-corner box (index = 4*ix + 2*iy + iz)
    tris = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5),  # x- / x+
        (0, 4, 5), (0, 5, 1), (2, 3, 7), (2, 7, 6),  # y- / y+
        (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),  # z- / z+
    ]  # fmt: skip
    return MeshData(corners, np.array(tris), name=name, color=tuple(color))
