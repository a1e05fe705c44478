"""Simulated table-top scenes: a table and a few held-out objects at metric sizes.

The simulated camera node renders these, and the demo and benchmarks use the same
scene object as ground truth. World frame: z up, origin at the centre of the table top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.voxels import Normalization
from vtr_perception.sim.boxes import TABLE_COLOR, TABLE_SIZE, box_mesh


@dataclass
class SceneObject:
    """One object on the table, with the ground truth a benchmark needs."""

    index: int
    key: str
    name: str
    category: str
    mesh: MeshData  # metric, world frame
    canonical: MeshData  # the same shape in its canonical cube (longest side 1)
    T_world_object: np.ndarray  # object frame: bounding-box centre, yaw about world z
    size: float  # longest side, metres

    @property
    def center(self) -> np.ndarray:
        return self.T_world_object[:3, 3]


@dataclass
class TableTopScene:
    """A table and objects; ``meshes()`` gives the renderer's input (table first, room clutter last)."""

    objects: list[SceneObject]
    table: MeshData
    metadata: dict = field(default_factory=dict)
    clutter: list[MeshData] = field(default_factory=list)  # the room around the table (sim/room.py): not objects

    def meshes(self) -> list[MeshData]:
        return [self.table, *(o.mesh for o in self.objects), *self.clutter]

    def object_ids(self, mask: np.ndarray) -> np.ndarray:
        """A rendered instance mask with the objects as 1..n and everything else (table, room) 0."""
        return np.where((mask >= 2) & (mask < 2 + len(self.objects)), mask - 1, 0).astype(np.int32)

    def object_for_instance(self, instance_id: int) -> SceneObject | None:
        """Renderer instance ids: 1 = table, 2.. = objects in order, then the clutter (None here)."""
        i = instance_id - 2
        return self.objects[i] if 0 <= i < len(self.objects) else None


def _yaw(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def place_object(
    canonical: MeshData, *, size: float, xy: tuple[float, float], yaw: float
) -> tuple[MeshData, np.ndarray]:
    """Scale a canonical mesh to ``size`` metres, rotate by ``yaw`` and stand it on the table at ``xy``."""
    R = _yaw(yaw)
    v = (canonical.vertices * size) @ R.T
    lift = -v[:, 2].min()
    offset = np.array([xy[0], xy[1], lift])
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = offset  # the canonical origin is the bounding-box centre
    return MeshData(v + offset, canonical.triangles, name=canonical.name, parts=canonical.parts, color=canonical.color,
                    vertex_colors=canonical.vertex_colors), T  # fmt: skip


def make_tabletop_scene(
    source: str = "procedural",
    *,
    num_objects: int = 3,
    split: str = "test",
    seed: int = 0,
    object_keys: list[str] | None = None,
    size_range: tuple[float, float] = (0.12, 0.18),
    spacing: float = 0.24,
    room: bool = False,
) -> TableTopScene:
    """Pick held-out objects from a mesh source and place them apart on a table.

    Objects are drawn from ``split`` (never from training objects) unless ``object_keys``
    names them. Each is normalised into its canonical cube, scaled so its longest side is
    in ``size_range`` metres, given a random yaw, and placed on a line along x. ``room`` adds
    the room around the table (sim/room.py: floor, walls, counter and shelves with items,
    chairs); it is clutter, never one of ``objects``.
    """
    from vtr_perception.data.sources import open_source
    from vtr_perception.data.splits import split_of

    if num_objects < 1:
        raise ValueError(f"a scene needs at least one object, got num_objects={num_objects}")
    rng = np.random.default_rng(seed)
    src = open_source(source)
    records = src.list_objects()
    if object_keys:
        by_key = {r.key: r for r in records}
        missing = [k for k in object_keys if k not in by_key]
        if missing:
            raise ValueError(f"objects not in source {source!r}: {', '.join(missing)}")
        candidates = [by_key[k] for k in object_keys]
    else:
        candidates = [r for r in records if split_of(r.object_id) == split]
        rng.shuffle(candidates)
        # round-robin over categories, so a small scene shows different kinds of objects
        seen: dict[str, int] = {}
        rank = []
        for r in candidates:
            seen[r.category] = seen.get(r.category, 0) + 1
            rank.append(seen[r.category])
        candidates = [r for _, r in sorted(zip(rank, candidates, strict=True), key=lambda p: p[0])]
    objects: list[SceneObject] = []
    xs = (np.arange(num_objects) - (num_objects - 1) / 2.0) * spacing
    for record in candidates:
        if len(objects) == num_objects:
            break
        try:
            mesh = src.load(record).validate()
        except ValueError:
            continue
        norm = Normalization.from_bounds(*mesh.bounds)
        canonical = MeshData(norm.to_canonical(mesh.vertices), mesh.triangles, name=record.key, parts=mesh.parts,
                             color=mesh.color, vertex_colors=mesh.vertex_colors)  # fmt: skip
        size = float(rng.uniform(*size_range))
        i = len(objects)
        placed, T = place_object(
            canonical, size=size, xy=(xs[i], rng.uniform(-0.05, 0.05)), yaw=rng.uniform(0, 2 * np.pi)
        )
        objects.append(SceneObject(i, record.key, record.name, record.category, placed, canonical, T, size))
    if len(objects) < num_objects:
        raise ValueError(f"source {source!r} has only {len(objects)} loadable {split} objects, {num_objects} requested")
    table = box_mesh(
        (TABLE_SIZE[0], TABLE_SIZE[1], TABLE_SIZE[2]), (0.0, 0.0, -TABLE_SIZE[2] / 2), "table", TABLE_COLOR
    )
    clutter = []
    if room:
        from vtr_perception.sim.room import room_clutter

        clutter = room_clutter(np.random.default_rng([seed, 31]))
    return TableTopScene(objects, table, {"source": source, "split": split, "seed": seed, "room": room}, clutter)
