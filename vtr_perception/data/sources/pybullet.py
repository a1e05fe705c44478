"""pybullet_data meshes: the 1000 ``random_urdfs`` objects and a table of named objects.

Random objects: ``random_urdfs/NNN/NNN.urdf`` references ``NNN.obj`` with a mesh scale
(0.015) that is applied here, so objects come out in metres; each ``o`` object of the
.obj (a convex hull) is one part, and the colour is the URDF material's rgba. Object
168's .obj has NaN vertices: loading it raises ValueError naming the file, and the cache
builder skips it. Objects 800-999 are reserved for the view synthesizer's pool (split
"synth", see splits.py), so they never overlap the reconstructor's train/val/test.

Named objects are re-oriented so that they stand z up with their front along +x; the
fix rotations (applied after the URDF visual origin) are listed in ``NAMED_OBJECTS``:
the teddy and the duck are modelled y up (the teddy lies on its side in pybullet), the
torus lies flat once its y axis is turned to z.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtr_perception.data import primitives
from vtr_perception.data.sources.base import ObjectRecord, color_for
from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.mesh_files import read_mesh_file

log = logging.getLogger(__name__)

NUM_RANDOM = 1000
SYNTH_RESERVED_FROM = 800  # random objects with index >= this are the synthesizer's pool


@dataclass(frozen=True)
class NamedObject:
    file: str  # .urdf or a mesh file, relative to pybullet_data
    fix_rpy_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # URDF rpy order, applied last
    split_objects: bool = False  # True where the ``o`` objects are convex hulls (VHACD)


NAMED_OBJECTS: dict[str, NamedObject] = {
    "teddy": NamedObject("teddy_vhacd.urdf", (90.0, 0.0, 90.0)),  # y up, face +z -> z up, face +x
    "duck": NamedObject("duck_vhacd.urdf", (90.0, 0.0, 180.0)),  # y up, bill -x -> z up, bill +x
    "bunny": NamedObject("bunny.obj"),
    "mug": NamedObject("objects/mug.urdf"),
    "cube": NamedObject("cube.urdf"),
    "sphere": NamedObject("sphere2.urdf"),
    "soccerball": NamedObject("soccerball.urdf"),
    "torus": NamedObject("torus/torus_textured.obj", (90.0, 0.0, 0.0)),  # ring axis y -> z
    "table": NamedObject("table/table.urdf"),
    "tray": NamedObject("tray/traybox.urdf", split_objects=True),
    "lego": NamedObject("lego/lego.urdf"),
    "jenga": NamedObject("jenga/jenga.urdf"),
    "domino": NamedObject("domino/domino.urdf"),
    "shape_sorter": NamedObject("toys/shape_sorter.obj"),
    "concave_box": NamedObject("toys/concave_box.urdf"),
}


def pybullet_data_path() -> Path:
    try:
        import pybullet_data
    except ImportError as exc:  # pragma: no cover - pybullet is a core requirement
        raise ValueError("the pybullet source needs the pybullet package (pip install pybullet)") from exc
    return Path(pybullet_data.getDataPath())


def _floats(text: str | None, default: tuple[float, ...]) -> np.ndarray:
    if not text:
        return np.asarray(default, dtype=np.float64)
    return np.asarray([float(x) for x in text.split()], dtype=np.float64)


def _origin(elem: ET.Element) -> np.ndarray:
    T = np.eye(4)
    origin = elem.find("origin")
    if origin is not None:
        rpy = _floats(origin.get("rpy"), (0.0, 0.0, 0.0))
        T[:3, :3] = primitives.rotation_rpy(*rpy)
        T[:3, 3] = _floats(origin.get("xyz"), (0.0, 0.0, 0.0))
    return T


def read_urdf_visuals(path: str | Path, *, split_objects: bool = True, name: str | None = None) -> MeshData:
    """The union of a URDF's visual geometry (meshes with their scale, boxes, cylinders, spheres).

    Every visual is placed by its <origin>; joints are ignored (all pybullet_data
    objects used here are single links). Each mesh part or primitive becomes a part.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ValueError(f"cannot read URDF {path}: {exc}") from exc
    solids: list[primitives.Solid] = []
    color = None
    for visual in root.iter("visual"):
        geom = visual.find("geometry")
        if geom is None or len(geom) == 0:
            continue
        shape = geom[0]
        new: list[primitives.Solid] = []
        if shape.tag == "mesh":
            mesh_path = path.parent / shape.get("filename", "")
            mesh = read_mesh_file(mesh_path, split_objects=split_objects)
            try:
                mesh.validate()
            except ValueError as exc:
                raise ValueError(f"{mesh_path} (visual of {path.name}): {exc}") from exc
            scale = _floats(shape.get("scale"), (1.0, 1.0, 1.0))
            new = [primitives.Solid(part.vertices * scale, part.triangles) for part in mesh.part_meshes()]
            if color is None and mesh.color != (0.7, 0.7, 0.7):
                color = mesh.color
        elif shape.tag == "box":
            new = [primitives.box(tuple(_floats(shape.get("size"), (1.0, 1.0, 1.0))))]
        elif shape.tag == "cylinder":
            r, length = float(shape.get("radius", 0.5)), float(shape.get("length", 1.0))
            new = [primitives.cylinder(r, length).translated((0.0, 0.0, -length / 2))]
        elif shape.tag == "sphere":
            new = [primitives.sphere(float(shape.get("radius", 0.5)))]
        material_color = visual.find("material/color")
        if material_color is not None and material_color.get("rgba"):
            color = tuple(float(c) for c in _floats(material_color.get("rgba"), (0.7, 0.7, 0.7, 1.0))[:3])
        T = _origin(visual)
        solids += [s.rotated(T[:3, :3]).translated(T[:3, 3]) for s in new]
    if not solids:
        raise ValueError(f"URDF {path} has no visual geometry")
    return primitives.union(
        solids, name=name or path.stem, color=color or (0.7, 0.7, 0.7), metadata={"path": str(path)}
    )


class PybulletSource:
    """pybullet_data objects; ``subset`` is "random", "named" or "all"."""

    name = "pybullet"

    def __init__(self, *, subset: str = "random") -> None:
        if subset not in ("random", "named", "all"):
            raise ValueError(f"unknown pybullet subset {subset!r}; expected random, named or all")
        self.subset = subset
        self.spec = f"pybullet:{subset}"
        self.root = pybullet_data_path()

    def list_objects(self) -> list[ObjectRecord]:
        """Records only (no mesh is read); broken objects such as 168 fail later, in ``load``."""
        records = []
        if self.subset in ("random", "all"):
            for i in range(NUM_RANDOM):
                urdf = self.root / "random_urdfs" / f"{i:03d}" / f"{i:03d}.urdf"
                if not urdf.is_file():
                    log.warning("pybullet_data random object %03d is missing (%s); skipped", i, urdf)
                    continue
                params = {"index": i}
                if i >= SYNTH_RESERVED_FROM:
                    params["split"] = "synth"
                records.append(ObjectRecord("pybullet", f"{i:03d}", f"random_{i:03d}", "random", str(urdf), params))
        if self.subset in ("named", "all"):
            for name, spec in NAMED_OBJECTS.items():
                records.append(
                    ObjectRecord(
                        "pybullet", name, name, name, str(self.root / spec.file), {"fix_rpy_deg": spec.fix_rpy_deg}
                    )
                )
        return records

    def load(self, record: ObjectRecord) -> MeshData:
        if record.path is None:
            raise ValueError(f"pybullet object {record.object_id!r} has no file path")
        path = Path(record.path)
        if record.category == "random":
            mesh = read_urdf_visuals(path, split_objects=True, name=record.name)
        else:
            named = NAMED_OBJECTS.get(record.object_id)
            split = named.split_objects if named else False
            if path.suffix == ".urdf":
                mesh = read_urdf_visuals(path, split_objects=split, name=record.name)
            else:
                mesh = read_mesh_file(path, split_objects=split, name=record.name)
            fix = np.radians(record.params.get("fix_rpy_deg", (0.0, 0.0, 0.0)))
            if np.any(fix != 0.0):
                T = np.eye(4)
                T[:3, :3] = primitives.rotation_rpy(*fix)
                mesh = mesh.transformed(T)
        try:
            mesh.validate()
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if min(mesh.color) > 0.95:  # white would vanish against a light background; pick a palette colour
            mesh.color = color_for(f"pybullet:{record.object_id}")
        mesh.metadata.update(source="pybullet", object_id=record.object_id, path=str(path))
        return mesh
