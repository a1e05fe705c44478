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


def _load_onnx(onnx_path: str | Path):
    """The ModelProto of an ONNX file, without its external weights; a FileNotFoundError or a ValueError."""
    import onnx

    path = Path(onnx_path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ValueError(f"{path}: not a readable ONNX model ({exc})") from None


def read_onnx_props(onnx_path: str | Path) -> dict[str, str]:
    """metadata_props of an ONNX file, without loading its weights into memory."""
    return {p.key: p.value for p in _load_onnx(onnx_path).metadata_props}


def expected_shapes(info: ModelInfo) -> dict[str, tuple[int | None, ...]]:
    """The graph inputs and outputs a model described by ``info`` must have; None is a free (dynamic) axis."""
    s, r = info.image_size, info.resolution
    shapes: dict[str, tuple[int | None, ...]] = {"images": (None, None, 3, s, s)}
    if info.needs_rotations:
        shapes["rotations"] = (None, None, 3, 3)
    shapes.update(occupancy=(None, r, r, r), error=(None, r, r, r), view_occupancy=(None, None, r, r, r),
                  view_pose=(None, None, None))  # fmt: skip
    return shapes


def _shape(value_info) -> tuple[int | None, ...]:
    return tuple(d.dim_value or None for d in value_info.type.tensor_type.shape.dim)


def _show(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def check_onnx_signature(model, info: ModelInfo, *, source: str) -> None:
    """A ValueError naming ``source`` when the graph's inputs or outputs are not the ones ``info`` implies."""
    check_signature({i.name: _shape(i) for i in model.graph.input}, {o.name: _shape(o) for o in model.graph.output},
                    info, source=source)  # fmt: skip


def check_signature(inputs: dict[str, tuple[int | None, ...]], outputs: dict[str, tuple[int | None, ...]],
                    info: ModelInfo, *, source: str) -> None:  # fmt: skip
    """``check_onnx_signature`` on name -> shape maps (None: a free axis), as a runtime's session lists them."""
    expected = expected_shapes(info)
    wanted_inputs = [n for n in INPUT_NAMES if n in expected]
    if sorted(inputs) != sorted(wanted_inputs):
        raise ValueError(f"{source}: model inputs are {sorted(inputs)}, expected {wanted_inputs} ({info.mode} model)")
    missing = [n for n in OUTPUT_NAMES if n not in outputs]
    if missing:
        raise ValueError(f"{source}: model lacks outputs {missing} (has {sorted(outputs)})")
    for name, want in expected.items():
        got = inputs.get(name, outputs.get(name))
        fits = len(got) == len(want) and all(w is None or g is None or g == w for g, w in zip(got, want, strict=True))
        if not fits:
            raise ValueError(f"{source}: {name} has shape {_show(got)}, expected {_show(want)} from its metadata")


def read_onnx_model_info(onnx_path: str | Path) -> ModelInfo:
    """The ModelInfo in an ONNX file's metadata, checked against the graph's input and output shapes."""
    model = _load_onnx(onnx_path)
    info = props_to_model_info({p.key: p.value for p in model.metadata_props}, source=str(onnx_path))
    check_onnx_signature(model, info, source=str(onnx_path))
    return info
