"""TensorRT backend: deserialise an engine, bind inputs and outputs by name, run on a CUDA stream.

TensorRT 10 name-based I/O: ``engine.num_io_tensors`` / ``get_tensor_name`` / ``get_tensor_mode``,
``context.set_input_shape`` and ``set_tensor_address`` per tensor, then ``execute_async_v3(stream)``.
Device memory and the stream come from torch.cuda or cuda-python (see cuda_runtime.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vtr_perception.infer.base import OUTPUT_NAMES, ModelInfo, check_inputs
from vtr_perception.infer.tensorrt_build import import_tensorrt

log = logging.getLogger(__name__)


class EngineLoadError(RuntimeError):
    """The engine file is corrupt, truncated, or from another TensorRT version / GPU."""


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, engine_path: str | Path, info: ModelInfo) -> None:
        from vtr_perception.infer.cuda_runtime import open_cuda

        trt = import_tensorrt()
        self.info = info
        self.engine_path = Path(engine_path)
        self._cuda = open_cuda()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if engine is None:
            raise EngineLoadError(f"TensorRT could not deserialise {self.engine_path} (corrupt or built elsewhere)")
        self._engine = engine
        self._context = engine.create_execution_context()
        if self._context is None:
            raise EngineLoadError(f"{self.engine_path}: could not create an execution context")
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.input_names = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if n not in self.input_names]
        missing = set(OUTPUT_NAMES) - set(self.output_names)
        if missing:
            raise EngineLoadError(f"{self.engine_path}: engine lacks outputs {sorted(missing)}")
        self._dtypes = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
        # Profile 0 bounds (min, opt, max) of each input, to reject shapes before TensorRT does.
        self._max_shapes = {n: tuple(engine.get_tensor_profile_shape(n, 0)[2]) for n in self.input_names}

    def run(self, images: np.ndarray, rotations: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images, rotations = check_inputs(self.info, images, rotations)
        max_b, max_v = self._max_shapes["images"][:2]
        if images.shape[0] > max_b or images.shape[1] > max_v:
            raise ValueError(
                f"engine {self.engine_path.name} takes at most batch {max_b} and {max_v} views, "
                f"got {images.shape[:2]}; rebuild it with larger --max-batch/--max-views"
            )
        feeds = {"images": images, "rotations": rotations}
        buffers = []
        for name in self.input_names:
            array = np.ascontiguousarray(feeds[name], dtype=self._dtypes[name])
            self._context.set_input_shape(name, array.shape)
            buf = self._cuda.to_device(array)
            buffers.append(buf)
            self._context.set_tensor_address(name, buf.ptr)
        outputs = {}
        for name in self.output_names:
            shape = tuple(int(d) for d in self._context.get_tensor_shape(name))
            outputs[name] = self._cuda.empty(shape, self._dtypes[name])
            self._context.set_tensor_address(name, outputs[name].ptr)
        if not self._context.execute_async_v3(self._cuda.stream_handle):
            raise RuntimeError(f"TensorRT execution of {self.engine_path.name} failed")
        self._cuda.synchronize()
        result = {name: self._cuda.to_host(outputs[name]).astype(np.float32, copy=False) for name in OUTPUT_NAMES}
        for buf in [*buffers, *outputs.values()]:
            self._cuda.free(buf)
        return result
