"""Export the reconstructor (with its pose and error heads) to ONNX and prove it matches PyTorch.

    python -m onnx_export.export --checkpoint models/reconstructor.pt --out models/reconstructor.onnx
    vtr-perception export --checkpoint models/reconstructor.pt --out models/reconstructor.onnx

Steps: torch.onnx.export (TorchScript exporter, opset 17, dynamic batch and view axes) ->
onnx.checker (full check) -> optional onnxslim simplification -> metadata_props (what a
runtime needs: input/output names, image size, normalisation, voxel resolution, mode,
view extent, max views, checkpoint sha256, package version) -> parity against PyTorch on
random and real inputs in ONNX Runtime -> atomic rename into place. A failed parity check
leaves no output file and raises ParityError.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

import vtr_perception
from onnx_export.parity import ParityReport, Sample, check_parity, random_samples, real_samples
from vtr_perception.infer.base import INPUT_NAMES, OUTPUT_NAMES, ModelInfo
from vtr_perception.infer.engine_cache import file_sha256
from vtr_perception.infer.metadata import model_info_to_props
from vtr_perception.infer.torch_backend import DEFAULT_MAX_VIEWS, model_info_from_config
from vtr_perception.io_utils import atomic_write

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17


class ParityError(ValueError):
    """The exported model's outputs differ from PyTorch's beyond tolerance."""


@dataclass
class ExportResult:
    path: Path
    info: ModelInfo
    parity: ParityReport | None
    simplified: bool


class _TupleOutputs(torch.nn.Module):
    """The reconstructor with positional outputs in OUTPUT_NAMES order (what the exporter wants)."""

    def __init__(self, model: torch.nn.Module, *, with_rotations: bool) -> None:
        super().__init__()
        self.model = model
        self.with_rotations = with_rotations

    def forward(self, images: torch.Tensor, rotations: torch.Tensor | None = None):
        out = self.model(images, rotations if self.with_rotations else None)
        return tuple(out[name] for name in OUTPUT_NAMES)


def _export_graph(model: torch.nn.Module, info: ModelInfo, path: Path, opset: int) -> tuple[str, ...]:
    """torch.onnx.export into ``path``; returns the input names the graph has."""
    inputs: tuple[str, ...] = INPUT_NAMES if info.needs_rotations else INPUT_NAMES[:1]
    # B=2, V=3 so no axis is 1: the tracer must not specialise a dynamic axis to a constant.
    example = [samples for samples in random_samples(info, shapes=((2, 3),))][0]
    args = (torch.from_numpy(example.images),)
    if info.needs_rotations:
        args += (torch.from_numpy(example.rotations),)
    axes = {"images": {0: "batch", 1: "views"}, "rotations": {0: "batch", 1: "views"}}
    axes.update({"occupancy": {0: "batch"}, "error": {0: "batch"}})
    axes.update({"view_occupancy": {0: "batch", 1: "views"}, "view_pose": {0: "batch", 1: "views"}})
    wrapper = _TupleOutputs(model.eval(), with_rotations=info.needs_rotations)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks become constants; axes stay dynamic
        torch.onnx.export(
            wrapper,
            args,
            str(path),
            input_names=list(inputs),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={k: v for k, v in axes.items() if k in inputs or k in OUTPUT_NAMES},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return inputs


def _simplify(model: onnx.ModelProto) -> onnx.ModelProto | None:
    try:
        import onnxslim
    except ImportError:
        log.info("onnxslim not installed; skipping simplification")
        return None
    try:
        return onnxslim.slim(model)
    except Exception as exc:  # a simplifier bug must not cost us the export
        log.warning("onnxslim failed (%s); keeping the unsimplified graph", exc)
        return None


def export_model(
    model: torch.nn.Module,
    out: str | Path,
    *,
    checkpoint_sha256: str = "",
    max_views: int = DEFAULT_MAX_VIEWS,
    opset: int = DEFAULT_OPSET,
    simplify: bool = True,
    parity_samples: list[Sample] | None = None,
) -> ExportResult:
    """Export ``model`` to ``out``; with ``parity_samples`` the file appears only if parity holds."""
    if opset < 17:
        raise ValueError(f"opset must be 17 or newer, got {opset}")
    out = Path(out)
    info = model_info_from_config(model.config, max_views=max_views)
    result: dict = {}

    def write(tmp: Path) -> None:
        inputs = _export_graph(model, info, tmp, opset)
        graph = onnx.load(str(tmp))
        onnx.checker.check_model(graph, full_check=True)
        simplified = _simplify(graph) if simplify else None
        if simplified is not None:
            onnx.checker.check_model(simplified, full_check=True)
            graph = simplified
        extra = {"checkpoint_sha256": checkpoint_sha256, "package_version": vtr_perception.__version__}
        extra["opset"] = str(opset)
        props = model_info_to_props(info, input_names=inputs, extra=extra)
        del graph.metadata_props[:]
        for key, value in props.items():
            graph.metadata_props.add(key=key, value=value)
        graph.producer_name = "vtr_perception"
        graph.doc_string = "vtr_perception multi-view voxel reconstructor (occupancy, error, view_occupancy, view_pose)"
        onnx.save(graph, str(tmp))
        result["simplified"] = simplified is not None
        if parity_samples:
            report = check_parity(model, tmp, parity_samples)
            result["parity"] = report
            log.debug("parity over %d samples: %s", len(report.samples), report.summary())
            if not report.ok:
                raise ParityError(f"ONNX export of {out.name} does not match PyTorch: {report.summary()}")

    atomic_write(out, write)
    return ExportResult(out, info, result.get("parity"), result["simplified"])


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    simplify: bool = True,
    parity: bool = True,
    max_views: int = DEFAULT_MAX_VIEWS,
    real_objects: int = 4,
) -> ExportResult:
    """Load a training checkpoint, export it, check parity on random and real inputs."""
    from vtr_perception.models import load_checkpoint

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    model, config, _ = load_checkpoint(checkpoint)
    samples = None
    if parity:
        info = model_info_from_config(config, max_views=max_views)
        samples = random_samples(info) + (real_samples(info, num_objects=real_objects) if real_objects else [])
    return export_model(
        model,
        out,
        checkpoint_sha256=file_sha256(checkpoint),
        max_views=max_views,
        opset=opset,
        simplify=simplify,
        parity_samples=samples,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="models/reconstructor.pt", help="training checkpoint (.pt)")
    parser.add_argument("--out", default="models/reconstructor.onnx", help="ONNX file to write (atomically)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (17 or newer)")
    parser.add_argument("--max-views", type=int, default=DEFAULT_MAX_VIEWS, help="view count runtimes should allow")
    parser.add_argument("--no-simplify", action="store_true", help="skip onnxslim graph simplification")
    parser.add_argument("--no-parity", action="store_true", help="skip the PyTorch parity check (not recommended)")
    parser.add_argument("--real-objects", type=int, default=4, help="real objects in the parity check (0: none)")


def run(args: argparse.Namespace) -> int:
    result = export_checkpoint(
        args.checkpoint,
        args.out,
        opset=args.opset,
        simplify=not args.no_simplify,
        parity=not args.no_parity,
        max_views=args.max_views,
        real_objects=args.real_objects,
    )
    size_mb = result.path.stat().st_size / 1e6
    parity = f"; parity OK ({result.parity.summary()})" if result.parity else "; parity not checked"
    print(f"wrote {result.path} ({size_mb:.1f} MB, simplified={result.simplified}){parity}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, ParityError) else 2


if __name__ == "__main__":
    sys.exit(main())
