"""Package files (config/, rviz/, launch/, models/) in a source checkout or an installed share dir."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

PACKAGE = "vtr_perception"


def share_dirs() -> list[Path]:
    """Where package data is looked for: the source checkout first, then the installed share dir."""
    dirs = [Path(__file__).resolve().parents[1]]
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory(PACKAGE)))
    except (ImportError, LookupError, ValueError, OSError):  # no package index (pip install, no ROS env)
        pass
    dirs.append(Path(sys.prefix) / "share" / PACKAGE)
    return dirs


def package_file(relative: str) -> Path:
    """The first existing ``<share>/<relative>``; FileNotFoundError lists where it looked."""
    tried = []
    for d in share_dirs():
        path = d / relative
        if path.exists():
            return path
        tried.append(str(path))
    raise FileNotFoundError(f"{relative} not found; looked in {', '.join(tried)}")


def _merge(into: dict, values: dict) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def section_parameters(data: dict, node: str) -> dict:
    """The ``ros__parameters`` a node named ``node`` (in any namespace) takes from a parameter file's ``data``.

    Sections apply in the file's order, later keys winning, as rcl applies them: ``/**`` (every node),
    ``/**/<node>``, ``<node>`` and ``/<node>``. The shipped files use ``/**`` so that they apply whatever
    the node's name and namespace (``namespace:=robot1``); a section keyed by a bare node name is
    silently ignored once the node has a namespace.
    """
    keys = {"/**", f"/**/{node}", node, f"/{node}"}
    out: dict = {}
    for key, section in (data or {}).items():
        if key in keys and isinstance(section, dict):
            _merge(out, copy.deepcopy(section.get("ros__parameters") or {}))
    return out


def shipped_parameters(node: str) -> dict:
    """The ``ros__parameters`` of ``config/<node>.yaml`` as the package ships them (nbv, reconstruction, ...)."""
    import yaml

    return section_parameters(yaml.safe_load(package_file(f"config/{node}.yaml").read_text()), node)
