"""Inference backends (tensorrt, onnxruntime, torch) behind one interface; see factory.load_backend."""

from vtr_perception.infer.base import INPUT_NAMES, OUTPUT_NAMES, Backend, ModelInfo, check_inputs
from vtr_perception.infer.factory import BACKEND_KINDS, BackendUnavailable, load_backend
from vtr_perception.infer.paths import default_engine_cache_dir, default_model_dir

__all__ = [
    "BACKEND_KINDS",
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "Backend",
    "BackendUnavailable",
    "ModelInfo",
    "check_inputs",
    "default_engine_cache_dir",
    "default_model_dir",
    "load_backend",
]
