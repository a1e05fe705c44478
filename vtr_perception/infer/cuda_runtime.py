"""Device buffers and a CUDA stream for the TensorRT backend and its INT8 calibrator.

TensorRT's Python API takes raw device pointers and a stream handle. Two providers of
those are supported, tried in this order:

  torch        torch.cuda tensors as buffers and a torch.cuda.Stream (when torch has CUDA)
  cuda-python  cudaMalloc / cudaMemcpyAsync / cudaStreamCreate from NVIDIA's cuda-python
               (``cuda.bindings.runtime``, or the older ``cuda.cudart``), e.g. on a Jetson
               whose torch build has no CUDA

Neither exists on a CPU-only machine; ``open_cuda()`` then raises CudaUnavailable with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class CudaUnavailable(RuntimeError):
    """No usable CUDA device or no library to reach it; the message says which."""


@dataclass
class DeviceArray:
    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    handle: Any  # keeps the allocation alive (torch tensor, or the raw pointer for cuda-python)


class TorchCuda:
    kind = "torch"

    def __init__(self) -> None:
        import torch

        if not torch.cuda.is_available():
            raise CudaUnavailable("torch has no CUDA device (torch.cuda.is_available() is False)")
        self._torch = torch
        self.stream = torch.cuda.Stream()

    @property
    def stream_handle(self) -> int:
        return int(self.stream.cuda_stream)

    def device(self) -> tuple[str, tuple[int, int]]:
        return self._torch.cuda.get_device_name(0), tuple(self._torch.cuda.get_device_capability(0))

    def to_device(self, array: np.ndarray) -> DeviceArray:
        with self._torch.cuda.stream(self.stream):
            t = self._torch.from_numpy(np.ascontiguousarray(array)).to("cuda", non_blocking=True)
        return DeviceArray(t.data_ptr(), tuple(array.shape), array.dtype, t)

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        t = self._torch.empty(shape, dtype=self._torch.from_numpy(np.empty(0, dtype)).dtype, device="cuda")
        return DeviceArray(t.data_ptr(), tuple(shape), np.dtype(dtype), t)

    def to_host(self, buf: DeviceArray) -> np.ndarray:
        with self._torch.cuda.stream(self.stream):
            host = buf.handle.to("cpu", non_blocking=False)
        return host.numpy()

    def synchronize(self) -> None:
        self.stream.synchronize()

    def free(self, buf: DeviceArray) -> None:
        buf.handle = None


class CudaPython:
    kind = "cuda-python"

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            try:
                from cuda import cudart
            except ImportError as exc:
                raise CudaUnavailable(f"cuda-python not importable ({exc})") from None
        self._rt = cudart
        count = self._check(cudart.cudaGetDeviceCount())
        if count < 1:
            raise CudaUnavailable("cuda-python sees no CUDA device")
        self._stream = self._check(cudart.cudaStreamCreate())

    def _check(self, result: tuple) -> Any:
        err, *rest = result
        if int(err) != int(self._rt.cudaError_t.cudaSuccess):
            raise CudaUnavailable(f"CUDA runtime error {err}")
        return rest[0] if len(rest) == 1 else rest

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    def device(self) -> tuple[str, tuple[int, int]]:
        prop = self._check(self._rt.cudaGetDeviceProperties(0))
        name = prop.name.decode(errors="replace").rstrip("\x00") if isinstance(prop.name, bytes) else str(prop.name)
        return name, (int(prop.major), int(prop.minor))

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        nbytes = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
        ptr = int(self._check(self._rt.cudaMalloc(nbytes)))
        return DeviceArray(ptr, tuple(shape), np.dtype(dtype), ptr)

    def to_device(self, array: np.ndarray) -> DeviceArray:
        array = np.ascontiguousarray(array)
        buf = self.empty(array.shape, array.dtype)
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self._rt.cudaMemcpyAsync(buf.ptr, array.ctypes.data, array.nbytes, kind, self._stream))
        self.synchronize()  # the host array may be freed by the caller once we return
        return buf

    def to_host(self, buf: DeviceArray) -> np.ndarray:
        host = np.empty(buf.shape, buf.dtype)
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self._rt.cudaMemcpyAsync(host.ctypes.data, buf.ptr, host.nbytes, kind, self._stream))
        self.synchronize()
        return host

    def synchronize(self) -> None:
        self._check(self._rt.cudaStreamSynchronize(self._stream))

    def free(self, buf: DeviceArray) -> None:
        if buf.handle is not None:
            self._rt.cudaFree(buf.ptr)
            buf.handle = None


def open_cuda() -> TorchCuda | CudaPython:
    """The first working CUDA provider; CudaUnavailable lists why each was rejected."""
    reasons = []
    for provider in (TorchCuda, CudaPython):
        try:
            return provider()
        except CudaUnavailable as exc:
            reasons.append(f"{provider.kind}: {exc}")
        except ImportError as exc:
            reasons.append(f"{provider.kind}: {exc}")
    raise CudaUnavailable("no CUDA device: " + "; ".join(reasons))
