"""ModelInfo <-> the string key/value pairs stored in an ONNX model's metadata_props.

The exporter writes these keys and every runtime reads them back, so an ONNX file is
self-describing: no checkpoint or config file is needed next to it at inference time.
"""

from __future__ import annotations

import json
from pathlib import Path

from vtr_perception.infer.base import INPUT_NAMES, OUTPUT_NAMES, ModelInfo

PREFIX = "vtr_perception."
# What the network expects as input; normalisation to the encoder's statistics happens inside the graph.
NORMALISATION = "rgb float32 in [0, 1], (B, V, 3, H, W); no mean/std subtraction outside the model"


def model_info_to_props(
    info: ModelInfo,
    *,
    input_names: tuple[str, ...] = INPUT_NAMES,
    output_names: tuple[str, ...] = OUTPUT_NAMES,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """All metadata_props for an exported reconstructor (values are strings, as ONNX requires)."""
    props = {
        "input_names": json.dumps(list(input_names)),
        "output_names": json.dumps(list(output_names)),
        "image_size": str(info.image_size),
        "normalisation": NORMALISATION,
        "resolution": str(info.resolution),
        "mode": info.mode,
        "view_extent": repr(float(info.view_extent)),
        "max_views": str(info.max_views),
    }
    props.update(extra or {})
    return {PREFIX + k: str(v) for k, v in props.items()}


def props_to_model_info(props: dict[str, str], *, source: str = "ONNX metadata") -> ModelInfo:
    """Inverse of model_info_to_props; a missing or malformed key is a ValueError naming ``source``."""
    try:
        return ModelInfo(
            image_size=int(props[PREFIX + "image_size"]),
            resolution=int(props[PREFIX + "resolution"]),
            mode=props[PREFIX + "mode"],
            view_extent=float(props[PREFIX + "view_extent"]),
            max_views=int(props[PREFIX + "max_views"]),
        )
    except KeyError as exc:
        raise ValueError(f"{source}: metadata key {exc.args[0]!r} missing; re-export the model") from None
    except ValueError as exc:
        raise ValueError(f"{source}: malformed metadata ({exc})") from None


def read_onnx_props(onnx_path: str | Path) -> dict[str, str]:
    """metadata_props of an ONNX file, without loading its weights into memory."""
    import onnx

    path = Path(onnx_path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ValueError(f"{path}: not a readable ONNX model ({exc})") from None
    return {p.key: p.value for p in model.metadata_props}


def read_onnx_model_info(onnx_path: str | Path) -> ModelInfo:
    return props_to_model_info(read_onnx_props(onnx_path), source=str(onnx_path))
