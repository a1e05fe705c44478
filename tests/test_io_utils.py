"""Atomic JSON writes give valid JSON: a value that could not be measured (NaN) is written as null."""

import json
import math

import numpy as np

from vtr_perception.io_utils import atomic_write_json


def test_non_finite_numbers_are_written_as_null(tmp_path):
    path = atomic_write_json(tmp_path / "out" / "summary.json", {
        "translation_cm": float("nan"), "steps": [{"iou": 0.5, "ms": math.inf}], "pair": (1.0, -math.inf),
        "numpy": float(np.float32("nan")), "fine": 1.25, "name": "x",
    })  # fmt: skip
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"translation_cm": None, "steps": [{"iou": 0.5, "ms": None}], "pair": [1.0, None],
                                "numpy": None, "fine": 1.25, "name": "x"}  # fmt: skip
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]  # no temporary file left behind
