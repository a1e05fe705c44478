"""Deterministic object-level splits: no object's views are in two splits.

``split_of`` maps an object to a split by a stable hash of (seed, source, object id)
against cumulative fractions, so an object's split never depends on which other objects
are present (``--limit 400`` and the full 1000 agree on every shared object). Because
each object is placed independently the per-category fractions match the requested ones
up to sampling noise; that is the price of stability and is fine for 100+ objects.

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

from vtr_perception.data.sources import ObjectRecord, stable_hash

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


def split_of_record(record: ObjectRecord, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> str:
    """The record's pinned split if its source sets one, else ``split_of`` its source-qualified id."""
    pinned = record.params.get("split")
    if pinned is not None:
        if pinned not in SPLITS:
            raise ValueError(f"object {record.key} pins unknown split {pinned!r}; expected one of {SPLITS}")
        return str(pinned)
    return split_of(f"{record.source}:{record.object_id}", fractions, seed)
