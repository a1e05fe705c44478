"""A room around the simulated table: what a real camera sees behind and beside the table's objects.

Real RGB-D frames of a table-top show far more than the table: a floor, walls, a kitchen counter
with items on it, shelves, chairs whose back rails stand just beyond the table's edge. None of it
is an object of the table, so none of it is ground truth; segmentation has to leave it out.

World frame as in sim/scenes.py: z up, origin at the centre of the table top (0.9 x 0.7 m, 0.75 m
above the floor). Everything here is boxes: walls, a counter along the back wall (top 0.15 m above
the table), items on it 0.8-1.3 m from the table centre, two wall shelves with items, table legs and
chairs (seat, two posts, two back rails) on the table's sides, one pushed in so its back is a few
centimetres beyond the table edge. ``room_clutter(rng)`` varies the items, chair places and colours.
"""

from __future__ import annotations

import numpy as np

from vtr_perception.geometry.mesh import MeshData
from vtr_perception.sim.boxes import TABLE_SIZE, box_mesh

TABLE_HEIGHT_M = 0.75  # floor to table top
FLOOR_Z = -TABLE_HEIGHT_M
WALL_COLOR = (0.85, 0.84, 0.8)
COUNTER_COLOR = (0.7, 0.15, 0.12)  # the red counter
SHELF_COLOR = (0.6, 0.5, 0.35)
CHAIR_COLOR = (0.3, 0.25, 0.2)


def _yawed_box(size, center, yaw: float, name: str, color) -> MeshData:
    """A box turned by ``yaw`` about world z around its centre."""
    mesh = box_mesh(size, (0.0, 0.0, 0.0), name, color)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return MeshData(mesh.vertices @ R.T + np.asarray(center), mesh.triangles, name=name, color=tuple(color))


def chair(xy: tuple[float, float], facing: float, color=CHAIR_COLOR, *, name: str = "chair") -> list[MeshData]:
    """A chair whose seat centre is at ``xy``, facing direction ``facing`` (rad, towards the table).

    Seat 0.42 m square at 0.45 m above the floor; the back (two posts, two rails) rises to 0.9 m on
    the side away from the table, so its top rail is 0.15 m above the table top.
    """
    seat_z = FLOOR_Z + 0.45
    f = np.array([np.cos(facing), np.sin(facing)])  # towards the table
    side = np.array([-f[1], f[0]])
    back_xy = np.asarray(xy) - 0.2 * f
    parts = [_yawed_box((0.42, 0.42, 0.03), (*xy, seat_z), facing, f"{name}_seat", color)]
    for k in (-1, 1):
        leg_xy = np.asarray(xy) + 0.18 * k * side + 0.18 * f
        parts.append(_yawed_box((0.03, 0.03, 0.45), (*leg_xy, FLOOR_Z + 0.225), facing, f"{name}_leg", color))
        post_xy = back_xy + 0.18 * k * side
        parts.append(_yawed_box((0.03, 0.03, 0.9), (*post_xy, FLOOR_Z + 0.45), facing, f"{name}_post", color))
    for z in (seat_z + 0.25, seat_z + 0.42):  # two back rails, the top one just under the posts' top
        parts.append(_yawed_box((0.03, 0.4, 0.05), (*back_xy, z), facing, f"{name}_rail", color))
    return parts


def _items_on(rng: np.random.Generator, n: int, x_range, y_range, base_z: float, name: str) -> list[MeshData]:
    """``n`` box items (cups, packets, jars: 5-20 cm) standing on a surface at ``base_z``."""
    items = []
    for i in range(n):
        size = (rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.12), rng.uniform(0.06, 0.2))
        center = (rng.uniform(*x_range), rng.uniform(*y_range), base_z + size[2] / 2.0)
        items.append(_yawed_box(size, center, rng.uniform(0, np.pi), f"{name}_item{i}", rng.uniform(0.1, 0.95, 3)))
    return items


def room_clutter(rng: np.random.Generator) -> list[MeshData]:
    """Floor, walls, counter and shelves with items, table legs and chairs around the table (not objects)."""
    tx, ty = TABLE_SIZE[0] / 2.0, TABLE_SIZE[1] / 2.0
    back_y = 1.6 + rng.uniform(-0.1, 0.1)  # the back wall's face
    meshes = [
        box_mesh((6.0, 6.0, 0.02), (0.0, 0.0, FLOOR_Z - 0.01), "floor", (0.45, 0.45, 0.5)),
        box_mesh((6.0, 0.1, 2.6), (0.0, back_y + 0.05, FLOOR_Z + 1.3), "back_wall", WALL_COLOR),
        box_mesh((0.1, 6.0, 2.6), (-2.0, 0.0, FLOOR_Z + 1.3), "side_wall", WALL_COLOR),
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            leg = (sx * (tx - 0.05), sy * (ty - 0.05), FLOOR_Z + (TABLE_HEIGHT_M - TABLE_SIZE[2]) / 2.0)
            meshes.append(box_mesh((0.05, 0.05, TABLE_HEIGHT_M - TABLE_SIZE[2]), leg, "table_leg", (0.3, 0.3, 0.3)))
    # A kitchen counter 0.9 m high and 0.6 m deep along the back wall, items on it.
    counter_top = FLOOR_Z + 0.9
    counter_y = back_y - 0.3
    meshes.append(box_mesh((2.4, 0.6, 0.9), (0.0, counter_y, FLOOR_Z + 0.45), "counter", COUNTER_COLOR))
    meshes += _items_on(rng, 5, (-1.0, 1.0), (counter_y - 0.2, counter_y + 0.2), counter_top, "counter")
    # Two shelves on the back wall above the counter, items on them.
    for level, z in enumerate((counter_top + 0.45, counter_top + 0.85)):
        meshes.append(box_mesh((1.6, 0.25, 0.02), (0.3, back_y - 0.125, z), f"shelf{level}", SHELF_COLOR))
        meshes += _items_on(rng, 3, (-0.4, 1.0), (back_y - 0.2, back_y - 0.06), z + 0.01, f"shelf{level}")
    # Chairs: one pushed in at the back (its back rail a few cm beyond the table edge), two at the ends.
    meshes += chair((rng.uniform(-0.2, 0.2), ty - 0.17 + rng.uniform(0.0, 0.04)), -np.pi / 2, name="chair_back")
    meshes += chair((tx + 0.3 + rng.uniform(0.0, 0.1), rng.uniform(-0.1, 0.1)), np.pi, name="chair_right")
    meshes += chair((-tx - 0.3 - rng.uniform(0.0, 0.1), rng.uniform(-0.1, 0.1)), 0.0, name="chair_left")
    return meshes
