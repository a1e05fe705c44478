"""ONNX Runtime backend: TensorRT EP, CUDA EP, OpenVINO EP, CPU, in that order, whichever this build offers.

The OpenVINO EP comes with the ``onnxruntime-openvino`` package (x86_64, requirements/openvino.txt),
which replaces ``onnxruntime``; on x86 CPUs it runs the reconstructor faster than ONNX Runtime's own
CPU kernels (benchmarks/results/inference_openvino.json, inference.json). It compiles the model once
per input shape, so the first call with each new batch size or view count is slow.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vtr_perception.infer.base import OUTPUT_NAMES, ModelInfo, check_inputs
from vtr_perception.infer.metadata import check_signature, props_to_model_info, read_onnx_model_info
from vtr_perception.infer.paths import default_engine_cache_dir

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)
GRAPH_LEVELS = ("disable", "basic", "extended", "all")


def choose_providers(available: list[str], *, engine_cache: str | Path | None = None,
                     threads: int | None = None) -> list:  # fmt: skip
    """PREFERRED_PROVIDERS filtered by ``available``; the TensorRT EP caches its engines on disk too, and
    the OpenVINO EP runs on the CPU (FP32, so outputs match the CPU EP's) with ``threads`` threads."""
    chosen: list = []
    for name in PREFERRED_PROVIDERS:
        if name not in available:
            continue
        if name == "TensorrtExecutionProvider":
            cache = Path(engine_cache or default_engine_cache_dir()) / "ort_trt"
            options = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache), "trt_fp16_enable": True}
            chosen.append((name, options))
        elif name == "OpenVINOExecutionProvider":
            options = {"device_type": "CPU", "precision": "FP32"}
            if threads:
                options["num_of_threads"] = str(threads)
            chosen.append((name, options))
        else:
            chosen.append(name)
    return chosen or ["CPUExecutionProvider"]


def session_model_info(session, *, source: str) -> ModelInfo:
    """The ModelInfo in a loaded session's metadata, checked against its inputs and outputs (ValueError naming
    ``source`` when they disagree)."""
    info = props_to_model_info(session.get_modelmeta().custom_metadata_map, source=source)

    def shapes(args) -> dict[str, tuple[int | None, ...]]:  # symbolic axes come as names (or None): free
        return {a.name: tuple(d if isinstance(d, int) and d > 0 else None for d in a.shape) for a in args}

    check_signature(shapes(session.get_inputs()), shapes(session.get_outputs()), info, source=source)
    return info


def _explain_unloadable(onnx_path: Path) -> None:
    """Raise what is wrong with a file ONNX Runtime cannot load where the onnx package can say it (unreadable,
    metadata or signature off); return when it is not installed or finds nothing."""
    try:
        read_onnx_model_info(onnx_path)
    except ImportError:  # onnx is only needed by the TensorRT path and this diagnosis
        return


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(
        self,
        onnx_path: str | Path,
        *,
        intra_op_threads: int | None = None,
        graph_optimization: str = "all",
        providers: list | None = None,
        engine_cache: str | Path | None = None,
        info: ModelInfo | None = None,
    ) -> None:
        import onnxruntime as ort

        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.onnx_path}")
        if graph_optimization not in GRAPH_LEVELS:
            raise ValueError(f"graph_optimization must be one of {GRAPH_LEVELS}, got {graph_optimization!r}")
        if intra_op_threads is not None and intra_op_threads < 0:
            raise ValueError(f"intra_op_threads must be >= 0 (0 = ONNX Runtime's default), got {intra_op_threads}")
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[graph_optimization]
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        # The node runs the network on some frames only; spinning worker threads would hold the cores
        # that segmentation, fusion and publishing need in between.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if providers is None:
            providers = choose_providers(ort.get_available_providers(), engine_cache=engine_cache,
                                         threads=intra_op_threads)  # fmt: skip
        try:
            self.session = ort.InferenceSession(str(self.onnx_path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime's Fail, InvalidGraph, ... share no base class but Exception
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _explain_unloadable(self.onnx_path)
            raise ValueError(f"{self.onnx_path}: ONNX Runtime cannot load the model ({first_line})") from None
        # The metadata and the graph's signature from the session: no second parse of the file (with onnx)
        self.info = info or session_model_info(self.session, source=str(self.onnx_path))
        self.providers = self.session.get_providers()
        self.input_names = [i.name for i in self.session.get_inputs()]
        missing = set(OUTPUT_NAMES) - {o.name for o in self.session.get_outputs()}
        if missing:
            raise ValueError(f"{self.onnx_path}: model lacks outputs {sorted(missing)}")

    def run(self, images: np.ndarray, rotations: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images, rotations = check_inputs(self.info, images, rotations)
        available = {"images": images, "rotations": rotations}
        feeds = {name: available[name] for name in self.input_names}
        return dict(zip(OUTPUT_NAMES, self.session.run(list(OUTPUT_NAMES), feeds), strict=True))
