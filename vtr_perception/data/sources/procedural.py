"""Procedural object categories: chair, table, mug, bottle, lamp, sofa.

Each instance is a union of closed primitives (one part each, see primitives.py) whose
shape parameters are drawn from a generator seeded by a hash of the instance id, so
``chair_0042`` is the same chair in every process and on every machine. Objects stand on
z = 0, z up, in metres, in a category-canonical pose: chairs and sofas face +x (back at
-x), the mug's handle points to +y. Category-level structure (shared layout, varying
proportions) is what makes category learning and the retrieval baselines meaningful.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vtr_perception.data import primitives as P
from vtr_perception.data.sources.base import ObjectRecord, color_for, stable_hash
from vtr_perception.geometry.mesh import MeshData

Builder = Callable[[np.random.Generator], tuple[list[P.Solid], dict]]


def _legs(rng: np.random.Generator, width: float, depth: float, height: float, thickness: float) -> list[P.Solid]:
    inset = thickness / 2 + rng.uniform(0.0, 0.03)
    return [
        P.box((thickness, thickness, height), (sx * (depth / 2 - inset), sy * (width / 2 - inset), height / 2))
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]


def _pedestal(rng: np.random.Generator, height: float, radius: float) -> list[P.Solid]:
    base_r = radius * rng.uniform(4.0, 7.0)
    base_h = rng.uniform(0.02, 0.04)
    return [P.cylinder(base_r, base_h), P.cylinder(radius, height)]


def chair(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    p = {
        "seat_height": rng.uniform(0.38, 0.52),
        "seat_width": rng.uniform(0.38, 0.6),
        "seat_depth": rng.uniform(0.36, 0.55),
        "seat_thickness": rng.uniform(0.03, 0.08),
        "leg_thickness": rng.uniform(0.025, 0.06),
        "back_height": rng.uniform(0.25, 0.6),
        "back_thickness": rng.uniform(0.025, 0.07),
        "pedestal": bool(rng.random() < 0.2),
        "arms": bool(rng.random() < 0.3),
    }
    h, w, d, t = p["seat_height"], p["seat_width"], p["seat_depth"], p["seat_thickness"]
    solids = [P.box((d, w, t), (0.0, 0.0, h - t / 2))]
    if p["pedestal"]:
        solids += _pedestal(rng, h - t, p["leg_thickness"] / 2 + 0.01)
    else:
        solids += _legs(rng, w, d, h - t, p["leg_thickness"])
    bt = p["back_thickness"]
    solids.append(P.box((bt, w, p["back_height"]), (-d / 2 + bt / 2, 0.0, h + p["back_height"] / 2)))
    if p["arms"]:
        arm_h = rng.uniform(0.15, 0.25)
        for sy in (-1, 1):
            solids.append(P.box((d, 0.04, 0.04), (0.0, sy * (w / 2 - 0.02), h + arm_h)))
            solids.append(P.box((0.04, 0.04, arm_h), (d / 2 - 0.02, sy * (w / 2 - 0.02), h + arm_h / 2)))
    return solids, p


def table(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    p = {
        "height": rng.uniform(0.45, 0.8),
        "width": rng.uniform(0.6, 1.6),
        "depth": rng.uniform(0.5, 1.0),
        "top_thickness": rng.uniform(0.02, 0.07),
        "leg_thickness": rng.uniform(0.03, 0.09),
        "round": bool(rng.random() < 0.3),
        "shelf": bool(rng.random() < 0.25),
    }
    h, w, d, t = p["height"], p["width"], p["depth"], p["top_thickness"]
    if p["round"]:
        r = min(w, d) / 2
        solids = [P.cylinder(r, t).translated((0.0, 0.0, h - t))]
        solids += _pedestal(rng, h - t, p["leg_thickness"] / 2)
    else:
        solids = [P.box((d, w, t), (0.0, 0.0, h - t / 2))]
        solids += _legs(rng, w, d, h - t, p["leg_thickness"])
        if p["shelf"]:
            solids.append(P.box((d * 0.9, w * 0.9, t * 0.7), (0.0, 0.0, (h - t) * rng.uniform(0.15, 0.35))))
    return solids, p


def mug(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    p = {
        "radius": rng.uniform(0.03, 0.05),
        "height": rng.uniform(0.07, 0.12),
        "wall": rng.uniform(0.004, 0.008),
        "handle_radius": rng.uniform(0.018, 0.03),
        "handle_thickness": rng.uniform(0.004, 0.008),
        "taper": rng.uniform(0.85, 1.1),
    }
    r, h, wall = p["radius"], p["height"], p["wall"]
    r_top = r * p["taper"]
    cup = P.lathe([(0.0, 0.0), (r, 0.0), (r_top, h), (r_top - wall, h), (r - wall, wall * 1.5), (0.0, wall * 1.5)])
    a, b = p["handle_radius"], p["handle_thickness"]
    # a torus standing in the xz-plane, moved to +y; its inner half hides inside the wall
    handle = P.torus(a, b).rotated(P.rotation_rpy(np.pi / 2, 0.0, np.pi / 2))
    handle = handle.translated((0.0, (r + r_top) / 2 + a - 2 * b, h / 2))
    return [cup, handle], p


def bottle(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    p = {
        "body_radius": rng.uniform(0.03, 0.06),
        "body_height": rng.uniform(0.12, 0.25),
        "shoulder_height": rng.uniform(0.02, 0.06),
        "neck_ratio": rng.uniform(0.25, 0.5),
        "neck_height": rng.uniform(0.03, 0.08),
        "cap_height": rng.uniform(0.01, 0.025),
    }
    R, H = p["body_radius"], p["body_height"]
    rn = R * p["neck_ratio"]
    sh, nh = p["shoulder_height"], p["neck_height"]
    body = P.lathe([(0.0, 0.0), (R, 0.0), (R, H), (rn, H + sh), (rn, H + sh + nh), (0.0, H + sh + nh)])
    cap = P.cylinder(rn * 1.15, p["cap_height"]).translated((0.0, 0.0, H + sh + nh - 0.002))
    return [body, cap], p


def lamp(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    p = {
        "base_radius": rng.uniform(0.06, 0.14),
        "base_height": rng.uniform(0.015, 0.05),
        "pole_height": rng.uniform(0.2, 0.6),
        "pole_radius": rng.uniform(0.008, 0.02),
        "shade_bottom_radius": rng.uniform(0.08, 0.2),
        "shade_top_ratio": rng.uniform(0.4, 0.9),
        "shade_height": rng.uniform(0.08, 0.22),
        "square_base": bool(rng.random() < 0.3),
    }
    bh, ph = p["base_height"], p["pole_height"]
    if p["square_base"]:
        side = 2 * p["base_radius"] * 0.9
        base = P.box((side, side, bh), (0.0, 0.0, bh / 2))
    else:
        base = P.cylinder(p["base_radius"], bh)
    pole = P.cylinder(p["pole_radius"], ph).translated((0.0, 0.0, bh - 0.001))
    rb, sh = p["shade_bottom_radius"], p["shade_height"]
    rt, wall = rb * p["shade_top_ratio"], 0.006
    z0 = bh + ph - 0.6 * sh
    # an open shade: a thin conical shell (bottom open, top closed by a disc) made as one closed solid
    shade = P.lathe([(0.0, sh - wall), (rt - wall, sh - wall), (rb - wall, 0.0), (rb, 0.0), (rt, sh), (0.0, sh)])
    return [base, pole, shade.translated((0.0, 0.0, z0))], p


def sofa(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    p = {
        "width": rng.uniform(1.2, 2.4),
        "depth": rng.uniform(0.7, 1.0),
        "seat_height": rng.uniform(0.35, 0.5),
        "back_height": rng.uniform(0.3, 0.55),
        "back_thickness": rng.uniform(0.12, 0.25),
        "arm_width": rng.uniform(0.08, 0.25),
        "arm_height": rng.uniform(0.1, 0.3),
        "feet_height": rng.uniform(0.0, 0.1),
        "cushions": int(rng.integers(1, 4)),
    }
    w, d, sh, fh = p["width"], p["depth"], p["seat_height"], p["feet_height"]
    bt, aw = p["back_thickness"], p["arm_width"]
    base_h = (sh - fh) * 0.6
    solids = [P.box((d, w, base_h), (0.0, 0.0, fh + base_h / 2))]
    if fh > 0.02:
        solids += _legs(rng, w, d, fh + 0.005, 0.05)
    cushion_w = (w - 2 * aw) / p["cushions"]
    cushion_h = sh - fh - base_h
    for i in range(p["cushions"]):
        y = -w / 2 + aw + cushion_w * (i + 0.5)
        solids.append(P.box((d - bt, cushion_w * 0.98, cushion_h), (bt / 2, y, fh + base_h + cushion_h / 2)))
    solids.append(
        P.box((bt, w, sh - fh + p["back_height"]), (-d / 2 + bt / 2, 0.0, fh + (sh - fh + p["back_height"]) / 2))
    )
    arm_top = sh + p["arm_height"]
    for sy in (-1, 1):
        solids.append(P.box((d, aw, arm_top - fh), (0.0, sy * (w / 2 - aw / 2), fh + (arm_top - fh) / 2)))
    return solids, p


CATEGORIES: dict[str, Builder] = {
    "chair": chair,
    "table": table,
    "mug": mug,
    "bottle": bottle,
    "lamp": lamp,
    "sofa": sofa,
}


def make_object(object_id: str) -> MeshData:
    """The procedural object ``<category>_<index>`` (e.g. 'chair_0042'), deterministic per id."""
    category, _, index = object_id.rpartition("_")
    if category not in CATEGORIES or not index.isdigit():
        raise ValueError(
            f"procedural object id must be <category>_<index> with category in {sorted(CATEGORIES)}, got {object_id!r}"
        )
    rng = np.random.default_rng(stable_hash(f"procedural:{object_id}"))
    solids, params = CATEGORIES[category](rng)
    clean = {k: (round(float(v), 5) if isinstance(v, float) else v) for k, v in params.items()}
    return P.union(solids, name=object_id, color=color_for(object_id), metadata={"category": category, **clean})


class ProceduralSource:
    """``per_category`` instances of every procedural category (ids <category>_0000 ...)."""

    name = "procedural"

    def __init__(self, *, per_category: int = 100, categories: list[str] | None = None) -> None:
        if per_category < 1:
            raise ValueError(f"procedural: per_category must be >= 1, got {per_category}")
        unknown = sorted(set(categories or []) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown procedural categories {unknown}; available: {sorted(CATEGORIES)}")
        self.per_category = per_category
        self.categories = list(categories or CATEGORIES)
        self.spec = f"procedural:{per_category}"

    def list_objects(self) -> list[ObjectRecord]:
        return [
            ObjectRecord("procedural", f"{c}_{i:04d}", f"{c}_{i:04d}", c, None, {"index": i})
            for c in self.categories
            for i in range(self.per_category)
        ]

    def load(self, record: ObjectRecord) -> MeshData:
        mesh = make_object(record.object_id)
        mesh.metadata.update(source="procedural", object_id=record.object_id)
        return mesh.validate()
