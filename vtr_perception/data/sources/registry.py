"""``open_source``: a mesh source by its spec string, from the table of registered kinds.

Mesh sources behind one interface, and ``open_source`` to pick one by a spec string.

A source lists object records and loads each as a MeshData in its own units (metres
for pybullet_data and the procedural shapes, ShapeNet's unit cube otherwise), z up, NOT
normalised: the cache normalises into the canonical cube (geometry/voxels.py) itself.

Specs:
    pybullet, pybullet:random   the 1000 pybullet_data random_urdfs objects
    pybullet:named              pybullet_data's named meshes (teddy, duck, bunny, ...)
    pybullet:all                both
    procedural[:N]              the project's procedural categories, N per category (default 100)
    shapenet:PATH               ShapeNetCore (<PATH>/<synset>/<model>/models/model_normalized.obj)
    meshdir:PATH                any directory tree of .obj/.ply/.stl/.off files
"""

from __future__ import annotations

from collections.abc import Callable

from vtr_perception.data.sources.base import MeshSource


def _pybullet(arg: str) -> MeshSource:
    from vtr_perception.data.sources.pybullet import PybulletSource

    return PybulletSource(subset=arg or "random")


def _procedural(arg: str) -> MeshSource:
    from vtr_perception.data.sources.procedural import ProceduralSource

    if arg and not arg.isdigit():
        raise ValueError(f"procedural source takes a count per category, e.g. procedural:100, got {arg!r}")
    return ProceduralSource(per_category=int(arg) if arg else 100)


def _shapenet(arg: str) -> MeshSource:
    from vtr_perception.data.sources.shapenet import ShapeNetCoreSource

    if not arg:
        raise ValueError("shapenet source needs a path: shapenet:/path/to/ShapeNetCore.v2")
    return ShapeNetCoreSource(arg)


def _meshdir(arg: str) -> MeshSource:
    from vtr_perception.data.sources.meshdir import MeshDirSource

    if not arg:
        raise ValueError("meshdir source needs a path: meshdir:/path/to/meshes")
    return MeshDirSource(arg)


# kind -> factory taking the text after the colon; the source modules load only when their kind is asked for
SOURCES: dict[str, Callable[[str], MeshSource]] = {
    "pybullet": _pybullet,
    "procedural": _procedural,
    "shapenet": _shapenet,
    "meshdir": _meshdir,
}


def open_source(spec: str) -> MeshSource:
    """The mesh source named by ``spec`` (see the module docstring); ValueError for unknown specs."""
    kind, _, arg = spec.partition(":")
    factory = SOURCES.get(kind.strip().lower())
    if factory is None:
        raise ValueError(
            f"unknown mesh source {spec!r}; expected pybullet[:random|named|all], procedural[:N], "
            "shapenet:PATH or meshdir:PATH"
        )
    return factory(arg.strip())
