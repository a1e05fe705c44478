"""Package files (config/, rviz/, launch/, models/) in a source checkout or an installed share dir."""

from __future__ import annotations

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


def shipped_parameters(node: str) -> dict:
    """The ``ros__parameters`` of ``config/<node>.yaml`` as the package ships them (nbv, reconstruction, ...)."""
    import yaml

    return yaml.safe_load(package_file(f"config/{node}.yaml").read_text())[node]["ros__parameters"]
