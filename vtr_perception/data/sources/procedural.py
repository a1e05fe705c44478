"""Procedural object categories: furniture (chair, table, sofa, lamp) and things a robot meets on a table (mug,
bottle, box, can, bowl, plate, cup, tool).

Each instance is a union of closed primitives (one part each, see primitives.py) whose
shape parameters are drawn from a generator seeded by a hash of the instance id, so
``chair_0042`` is the same chair in every process and on every machine. Objects stand on
z = 0, z up, in metres, in a category-canonical pose: chairs and sofas face +x (back at
-x), mug and cup handles point to +y, tools lie on the table with the handle along +x.
Category-level structure (shared layout, varying proportions) is what makes category
learning and the retrieval baselines meaningful.
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


def box(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    """A carton: a box with a lid (shoe box), a gable top (milk carton) or a tape band (shipping box)."""
    p = {
        "length": rng.uniform(0.06, 0.35),
        "width": rng.uniform(0.05, 0.25),
        "height": rng.uniform(0.04, 0.3),
        "top": str(rng.choice(["lid", "gable", "tape"])),
    }
    L, W, H = p["length"], p["width"], p["height"]
    solids = [P.box((L, W, H), (0.0, 0.0, H / 2))]
    if p["top"] == "lid":
        lid_h = H * rng.uniform(0.15, 0.35)
        solids.append(P.box((L * 1.04, W * 1.04, lid_h), (0.0, 0.0, H - lid_h / 2 + 0.002)))
    elif p["top"] == "gable":
        gable = rng.uniform(0.15, 0.4) * W
        solids.append(
            P.prism([(-W / 2, 0.0), (W / 2, 0.0), (0.0, gable)], L)
            .rotated(P.rotation_rpy(np.pi / 2, 0.0, np.pi / 2))
            .translated((-L / 2, 0.0, H - 0.001))
        )
        solids.append(P.box((L * 0.9, 0.006, gable * 0.3), (0.0, 0.0, H + gable + gable * 0.15 - 0.002)))
    else:
        solids.append(P.box((L + 0.004, W * rng.uniform(0.1, 0.3), H + 0.002), (0.0, 0.0, H / 2 + 0.001)))
    return solids, p


def can(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    """A tin or drink can: a cylinder narrowing at the rims, with a ring at the top."""
    p = {"radius": rng.uniform(0.025, 0.06), "height": rng.uniform(0.05, 0.2), "neck": rng.uniform(0.8, 0.97)}
    r, h = p["radius"], p["height"]
    rim = min(0.012, 0.1 * h)
    body = P.lathe([(0.0, 0.0), (r * p["neck"], 0.0), (r, rim), (r, h - rim), (r * p["neck"], h), (0.0, h)])
    ring = P.torus(r * p["neck"] * 0.95, min(0.003, r * 0.05)).translated((0.0, 0.0, h))
    return [body, ring], p


def bowl(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    """A hollow bowl on a foot ring, shallow to deep."""
    p = {
        "radius": rng.uniform(0.05, 0.14),
        "depth_ratio": rng.uniform(0.3, 0.7),
        "wall": rng.uniform(0.004, 0.01),
        "foot_ratio": rng.uniform(0.35, 0.6),
    }
    R, wall = p["radius"], p["wall"]
    h = R * p["depth_ratio"]
    rf = R * p["foot_ratio"]
    foot_h = 0.1 * h
    curve = [(rf + (R - rf) * np.sin(t * np.pi / 2), foot_h + (h - foot_h) * t) for t in np.linspace(0.0, 1.0, 6)]
    inner = [
        (max(r - wall, 0.5 * rf), z + wall * 1.5 * (1 - t))
        for (r, z), t in zip(curve[::-1], np.linspace(0.0, 1.0, 6), strict=True)
    ]
    body = P.lathe([(0.0, foot_h), *curve, *inner, (0.0, foot_h + 1.5 * wall)])
    foot = P.cylinder(rf, foot_h + 0.001)
    return [body, foot], p


def plate(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    """A plate or saucer: a flat disc with a raised rim on a foot."""
    p = {
        "radius": rng.uniform(0.06, 0.15),
        "rim_height": rng.uniform(0.008, 0.03),
        "well_ratio": rng.uniform(0.5, 0.75),
    }
    R, rh = p["radius"], p["rim_height"]
    t, rw = 0.004, R * p["well_ratio"]
    foot_h = 0.003
    body = P.lathe([(0.0, foot_h), (rw, foot_h), (R, rh), (R - 0.004, rh + 0.002), (rw, foot_h + t), (0.0, foot_h + t)])
    foot = P.lathe([(0.0, 0.0), (rw * 0.7, 0.0), (rw * 0.7, foot_h + 0.001), (0.0, foot_h + 0.001)])
    return [body, foot], p


def cup(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    """A teacup: wider than a mug, flared, a small handle, sometimes on a saucer."""
    p = {
        "radius": rng.uniform(0.03, 0.05),
        "height_ratio": rng.uniform(0.6, 1.1),
        "flare": rng.uniform(1.1, 1.5),
        "wall": rng.uniform(0.003, 0.006),
        "handle_radius": rng.uniform(0.012, 0.02),
        "saucer": bool(rng.random() < 0.4),
    }
    r, wall = p["radius"], p["wall"]
    h = 2 * r * p["height_ratio"]
    r_top = r * p["flare"]
    z0 = 0.0
    solids = []
    if p["saucer"]:
        sr = r_top * rng.uniform(1.5, 1.9)
        solids.append(
            P.lathe([(0.0, 0.0), (sr * 0.6, 0.0), (sr, 0.012), (sr - 0.004, 0.014), (sr * 0.6, 0.006), (0.0, 0.006)])
        )
        z0 = 0.005
    foot = 0.6 * r
    body = P.lathe(
        [
            (0.0, 0.0),
            (foot, 0.0),
            (r, 0.25 * h),
            (r_top, h),
            (r_top - wall, h),
            (r - wall, 0.25 * h + wall),
            (0.0, 1.5 * wall),
        ]
    )
    solids.append(body.translated((0.0, 0.0, z0)))
    a, b = p["handle_radius"], min(0.005, p["handle_radius"] / 3)
    handle = P.torus(a, b).rotated(P.rotation_rpy(np.pi / 2, 0.0, np.pi / 2))
    solids.append(handle.translated((0.0, (r + r_top) / 2 + a - 2 * b, z0 + 0.55 * h)))
    return solids, p


def tool(rng: np.random.Generator) -> tuple[list[P.Solid], dict]:
    """A hand tool lying on the table: a round handle along x and a head (hammer, screwdriver, spatula, wrench)."""
    p = {
        "kind": str(rng.choice(["hammer", "screwdriver", "spatula", "wrench"])),
        "handle_length": rng.uniform(0.08, 0.2),
        "handle_radius": rng.uniform(0.008, 0.018),
        "head_length": rng.uniform(0.04, 0.12),
    }
    hl, hr, head = p["handle_length"], p["handle_radius"], p["head_length"]
    along_x = P.rotation_rpy(0.0, np.pi / 2, 0.0)  # z axis -> x axis
    solids = [P.cylinder(hr, hl).rotated(along_x).translated((0.0, 0.0, hr))]
    if p["kind"] == "hammer":
        side = hr * rng.uniform(1.4, 2.2)
        solids.append(P.box((side, head, side), (hl + side / 2 - 0.002, 0.0, side / 2)))
        solids[0] = solids[0].translated((0.0, 0.0, side / 2 - hr))
    elif p["kind"] == "screwdriver":
        shaft = P.cylinder(hr * 0.3, head).rotated(along_x).translated((hl - 0.002, 0.0, hr))
        solids.append(shaft)
    elif p["kind"] == "spatula":
        width = hr * rng.uniform(3.0, 5.0)
        solids.append(P.box((head, width, 0.004), (hl + head / 2 - 0.002, 0.0, 0.002)))
        solids.append(P.box((0.02, hr, hr), (hl + 0.008, 0.0, hr / 2)))
    else:
        jaw = hr * rng.uniform(2.5, 4.0)
        solids.append(P.box((0.01 + hr, jaw, hr), (hl + hr / 2, 0.0, hr / 2)))
        for sy in (-1, 1):
            solids.append(P.box((head * 0.4, hr * 0.8, hr), (hl + hr + head * 0.2, sy * (jaw / 2 - hr * 0.4), hr / 2)))
    lo = np.min([s.vertices.min(axis=0) for s in solids], axis=0)
    hi = np.max([s.vertices.max(axis=0) for s in solids], axis=0)
    offset = (-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2])
    return [s.translated(offset) for s in solids], p


CATEGORIES: dict[str, Builder] = {
    "chair": chair,
    "table": table,
    "mug": mug,
    "bottle": bottle,
    "lamp": lamp,
    "sofa": sofa,
    "box": box,
    "can": can,
    "bowl": bowl,
    "plate": plate,
    "cup": cup,
    "tool": tool,
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
