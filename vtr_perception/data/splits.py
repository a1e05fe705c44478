"""Deterministic object-level splits: no object's views are in two splits.

Two assignments, both independent of which other objects are present (``--limit 400``
and the full 1000 agree on every shared object):
- objects with an index within their category (procedural instances, pybullet_data
  random objects: ``record.params["index"]``) are stratified: each block of
  ``BLOCK`` = 20 consecutive indices of a category gets exactly the requested shares
  (0.8/0.1/0.1 -> 16/2/2), shuffled within the block by a stable hash (``split_of_index``);
- other objects (ShapeNet, meshdir) go by a stable hash of (seed, source, object id)
  against the cumulative fractions (``split_of``), so fractions hold up to sampling noise.

Splits: train / val / test for the reconstructor, and "synth": an object pool for the
diffusion view synthesizer that is disjoint from the reconstructor's train and test
objects. It is filled two ways:
- a source may pin an object to a split (``record.params["split"]``): pybullet_data
  random objects 800-999 are always "synth" (see pybullet_source.py);
- an optional fourth fraction, e.g. ``(0.7, 0.1, 0.1, 0.1)``, hashes that share of any
  source into "synth" (default 0: the procedural and ShapeNet sources use none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vtr_perception.data.sources.base import ObjectRecord, stable_hash

SPLITS: tuple[str, ...] = ("train", "val", "test", "synth")
DEFAULT_FRACTIONS: tuple[float, ...] = (0.8, 0.1, 0.1)


def _check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    f = tuple(float(x) for x in fractions)
    if len(f) not in (3, 4) or any(x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
        raise ValueError(
            f"split fractions must be 3 (train, val, test) or 4 (+ synth) non-negative numbers summing to 1, got {f}"
        )
    return f


def split_of(object_id: str, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> str:
    """'train' | 'val' | 'test' | 'synth' for an object id (use a source-qualified id, e.g. 'pybullet:042')."""
    f = _check_fractions(fractions)
    u = stable_hash(f"split:{seed}:{object_id}") / 2.0**64
    edge = 0.0
    for name, share in zip(SPLITS, f, strict=False):
        edge += share
        if u < edge:
            return name
    return SPLITS[len(f) - 1]  # u within rounding of 1.0


BLOCK = 20


def block_counts(fractions: Sequence[float], block: int = BLOCK) -> list[int]:
    """Objects per split in a block of ``block``: largest-remainder rounding of the fractions."""
    f = _check_fractions(fractions)
    raw = [x * block for x in f]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(f)), key=lambda i: raw[i] - counts[i], reverse=True)[: block - sum(counts)]:
        counts[i] += 1
    return counts


def split_of_index(group: str, index: int, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> str:
    """Stratified split of the ``index``-th object of ``group`` (e.g. 'procedural:chair')."""
    if index < 0:
        raise ValueError(f"object index must be >= 0, got {index}")
    block, slot = divmod(int(index), BLOCK)
    slots = [name for name, n in zip(SPLITS, block_counts(fractions), strict=False) for _ in range(n)]
    order = np.random.default_rng(stable_hash(f"split-block:{seed}:{group}:{block}")).permutation(BLOCK)
    return slots[int(order[slot])]


def split_of_record(record: ObjectRecord, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> str:
    """The record's pinned split if its source sets one, else stratified by index, else hashed by id."""
    pinned = record.params.get("split")
    if pinned is not None:
        if pinned not in SPLITS:
            raise ValueError(f"object {record.key} pins unknown split {pinned!r}; expected one of {SPLITS}")
        return str(pinned)
    if isinstance(record.params.get("index"), int):
        return split_of_index(f"{record.source}:{record.category}", record.params["index"], fractions, seed)
    return split_of(f"{record.source}:{record.object_id}", fractions, seed)
