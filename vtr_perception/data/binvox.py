"""Read and write .binvox voxel files (the format of ShapeNetVox32).

Layout: a text header (``#binvox 1``, ``dim D H W``, ``translate x y z``, ``scale s``,
``data``) then run-length pairs of bytes (value, count). Voxels are stored with y
running fastest, then z, then x; ``read_binvox`` returns a bool grid indexed (x, y, z)
in the file's own frame (ShapeNet's is y up; see shapenet.py for the turn to z up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtr_perception.io_utils import atomic_write_bytes


@dataclass
class BinvoxGrid:
    occupancy: np.ndarray  # bool (X, Y, Z)
    translate: tuple[float, float, float]
    scale: float


def read_binvox(path: str | Path) -> BinvoxGrid:
    """Parse a .binvox file; ValueError naming the file on any format problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read binvox file {path}: {exc}") from exc
    header: dict[str, list[str]] = {}
    pos = 0
    for _ in range(16):
        end = raw.find(b"\n", pos)
        if end < 0:
            raise ValueError(f"{path}: truncated binvox header")
        line = raw[pos:end].decode("ascii", errors="replace").strip()
        pos = end + 1
        if line == "data":
            break
        key, *values = line.split()
        header[key] = values
    else:
        raise ValueError(f"{path}: binvox header has no 'data' line")
    if "#binvox" not in header or "dim" not in header:
        raise ValueError(f"{path}: not a binvox file (header {sorted(header)})")
    try:
        dims = tuple(int(v) for v in header["dim"])
        translate = tuple(float(v) for v in header.get("translate", ["0", "0", "0"]))
        scale = float(header.get("scale", ["1"])[0])
    except ValueError as exc:
        raise ValueError(f"{path}: bad binvox header: {exc}") from exc
    if len(dims) != 3 or min(dims) <= 0:
        raise ValueError(f"{path}: bad binvox dimensions {dims}")
    rle = np.frombuffer(raw, dtype=np.uint8, offset=pos)
    if len(rle) % 2:
        raise ValueError(f"{path}: binvox run-length data has odd length {len(rle)}")
    values, counts = rle[0::2], rle[1::2].astype(np.int64)
    total = int(counts.sum())
    if total != int(np.prod(dims)):
        raise ValueError(f"{path}: binvox data holds {total} voxels, header says {dims}")
    flat = np.repeat(values.astype(bool), counts)
    grid = flat.reshape(dims).transpose(0, 2, 1)  # stored (x, z, y) -> (x, y, z)
    return BinvoxGrid(np.ascontiguousarray(grid), translate, scale)  # type: ignore[arg-type]


def write_binvox(path: str | Path, occupancy: np.ndarray, *, translate=(0.0, 0.0, 0.0), scale: float = 1.0) -> Path:
    """Write a bool (X, Y, Z) grid as .binvox (atomically)."""
    occ = np.asarray(occupancy, dtype=bool)
    if occ.ndim != 3:
        raise ValueError(f"binvox grid must be 3-D, got shape {occ.shape}")
    flat = occ.transpose(0, 2, 1).reshape(-1).astype(np.uint8)
    out = bytearray()
    i = 0
    while i < len(flat):
        v = flat[i]
        j = i
        while j < len(flat) and flat[j] == v and j - i < 255:
            j += 1
        out += bytes((int(v), j - i))
        i = j
    d = occ.shape
    t = " ".join(f"{x:g}" for x in translate)
    head = f"#binvox 1\ndim {d[0]} {d[1]} {d[2]}\ntranslate {t}\nscale {scale:g}\ndata\n".encode()
    return atomic_write_bytes(path, head + bytes(out))
