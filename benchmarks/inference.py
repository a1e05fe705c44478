"""Inference speed: torch eager vs ONNX Runtime (vs TensorRT when present) on the same model, same run.

    python benchmarks/inference.py [--checkpoint models/reconstructor.pt | --random-init]
                                   [--views 1 3 5 8] [--batch 1 4] [--repeats 20] [--threads 2]

Backends are timed in alternating blocks inside each (views, batch) cell (see
timed_in_blocks), so slow phases of a shared machine hit all of them alike. Also reports the model's FLOPs
(torch.utils.flop_counter) and achieved FLOP/s as a fraction of the machine's measured
float32 matmul peak, and ONNX Runtime graph-optimisation levels for the 3-view case.
Writes benchmarks/results/inference.json ({"runs": [{"backend", "views", "batch", "p50_ms", "p95_ms", ...}]}).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import ROOT, write_result  # the script's own folder is sys.path[0]
from tqdm import tqdm

from onnx_export.export import export_model
from onnx_export.parity import random_rotations
from vtr_perception.infer.engine_cache import file_sha256
from vtr_perception.infer.metadata import PREFIX, read_onnx_props
from vtr_perception.infer.onnxruntime_backend import OnnxRuntimeBackend
from vtr_perception.infer.torch_backend import TorchBackend


def measured_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 matmul throughput of torch on this machine (GFLOP/s)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(torch.mm, a, b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def timed_in_blocks(backends: dict, images, rotations, *, repeats: int, warmup: int, blocks: int = 4) -> dict:
    """Seconds per run for each backend, timed in alternating blocks of ``repeats / blocks`` runs.

    Blocks, not run-by-run alternation: a backend's thread pool keeps spinning for a while after
    its run, so strict round-robin times each backend against the other's spinning threads (on
    2 cores that added 20-40% to both). Alternating blocks still spread slow phases of a shared
    machine over all backends; the first ``warmup`` runs of each block are not timed.
    """
    times: dict[str, list[float]] = {name: [] for name in backends}
    per_block = [repeats // blocks + (i < repeats % blocks) for i in range(blocks)]
    for count in per_block:
        for name, backend in backends.items():
            for _ in range(warmup):
                backend.run(images, rotations)
            times[name].extend(_timed(backend.run, images, rotations) for _ in range(count))
    return times


def model_flops(model: torch.nn.Module, images: torch.Tensor, rotations: torch.Tensor | None) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(images, rotations)
    return int(counter.get_total_flops())


def load_model(args) -> tuple[torch.nn.Module, str, str]:
    """(model, checkpoint path or 'random-init', checkpoint sha256 or '')."""
    from vtr_perception.models import Reconstructor, ReconstructorConfig, load_checkpoint

    checkpoint = Path(args.checkpoint)
    if not args.random_init and checkpoint.is_file():
        model, _, _ = load_checkpoint(checkpoint)
        return model, str(checkpoint), file_sha256(checkpoint)
    if not args.random_init:
        raise SystemExit(f"inference benchmark: {checkpoint} not found (use --random-init for an untrained model)")
    torch.manual_seed(0)
    return Reconstructor(ReconstructorConfig()).eval(), "random-init (default ReconstructorConfig)", ""


def onnx_for(model, checkpoint_sha: str, args, tmp: Path) -> Path:
    """The shipped ONNX when it was exported from this very checkpoint, else a fresh export of it."""
    shipped = Path(args.onnx)
    if checkpoint_sha and shipped.is_file():
        if read_onnx_props(shipped).get(PREFIX + "checkpoint_sha256") == checkpoint_sha:
            return shipped
    out = tmp / "reconstructor.onnx"
    export_model(model, out, checkpoint_sha256=checkpoint_sha, simplify=True)
    return out


def stats(seconds: list[float], batch: int, views: int) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    p50 = float(np.median(ms))
    return {
        "p50_ms": round(p50, 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "objects_per_s": round(batch / p50 * 1e3, 3),
        "views_per_s": round(batch * views / p50 * 1e3, 3),
        "repeats": len(seconds),
    }


def make_backends(model, onnx_path: Path, threads: int) -> tuple[dict, str]:
    """torch, ONNX Runtime and, where it loads, TensorRT over the same model; and what happened to TensorRT."""
    backends = {
        "torch": TorchBackend(model=model),
        "onnxruntime": OnnxRuntimeBackend(onnx_path, intra_op_threads=threads),
    }
    try:
        from vtr_perception.infer import load_backend

        backends["tensorrt"] = load_backend("tensorrt", onnx_path=onnx_path)
    except Exception as exc:  # TensorRT absent or unusable here: say so in the result
        return backends, f"not run: {exc}"
    return backends, "run"


def time_cells(model, backends: dict, cells: list[tuple[int, int]], args: argparse.Namespace, rng, peak: float):
    """One row per backend and (views, batch) cell: latency statistics, FLOPs and the share of peak reached."""
    info = backends["torch"].info
    runs = []
    for views, batch in tqdm(cells, desc="inference benchmark"):
        images = rng.random((batch, views, 3, info.image_size, info.image_size), dtype=np.float32)
        rotations = random_rotations(rng, (batch, views)) if info.needs_rotations else None
        flops = model_flops(
            model, torch.from_numpy(images), torch.from_numpy(rotations) if rotations is not None else None
        )
        times = timed_in_blocks(backends, images, rotations, repeats=args.repeats, warmup=args.warmup)
        for name in backends:
            row = {"backend": name, "views": views, "batch": batch, **stats(times[name], batch, views)}
            row["gflop"] = round(flops / 1e9, 4)
            row["gflops_achieved"] = round(flops / 1e9 / (row["p50_ms"] / 1e3), 3)
            row["fraction_of_peak"] = round(row["gflops_achieved"] / peak, 4)
            runs.append(row)
    return runs


def time_graph_levels(onnx_path: Path, info, args: argparse.Namespace, rng) -> dict:
    """ONNX Runtime at each graph optimisation level, one object from 3 views."""
    images = rng.random((1, 3, 3, info.image_size, info.image_size), dtype=np.float32)
    rotations = random_rotations(rng, (1, 3)) if info.needs_rotations else None
    levels = {}
    for level in ("disable", "basic", "extended", "all"):
        backend = OnnxRuntimeBackend(onnx_path, intra_op_threads=args.threads, graph_optimization=level)
        for _ in range(args.warmup):
            backend.run(images, rotations)
        levels[level] = stats([_timed(backend.run, images, rotations) for _ in range(args.repeats)], 1, 3)
    return levels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "models" / "reconstructor.pt"))
    parser.add_argument("--onnx", default=str(ROOT / "models" / "reconstructor.onnx"))
    parser.add_argument("--random-init", action="store_true", help="benchmark an untrained default model")
    parser.add_argument("--views", type=int, nargs="+", default=[1, 3, 5, 8])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per backend and cell")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads and ORT intra-op threads")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/inference.json)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()

    model, source, sha = load_model(args)
    tmp = Path(tempfile.mkdtemp(prefix="vtr_bench_"))
    onnx_path = onnx_for(model, sha, args, tmp)
    backends, tensorrt_note = make_backends(model, onnx_path, args.threads)
    info = backends["torch"].info
    peak = measured_peak_gflops()
    rng = np.random.default_rng(0)
    cells = [(v, b) for b in args.batch for v in args.views]
    runs = time_cells(model, backends, cells, args, rng, peak)
    levels = time_graph_levels(onnx_path, info, args, rng)

    def p50(backend: str, views: int, batch: int) -> float | None:
        match = [r["p50_ms"] for r in runs if (r["backend"], r["views"], r["batch"]) == (backend, views, batch)]
        return match[0] if match else None

    speedups = {
        f"v{v}_b{b}": round(p50("torch", v, b) / p50("onnxruntime", v, b), 3)
        for v, b in cells
        if p50("torch", v, b) and p50("onnxruntime", v, b)
    }
    ort_3 = p50("onnxruntime", 3, 1)
    payload = {
        "runs": runs,
        "model": {
            "source": source,
            "onnx": str(onnx_path if onnx_path.parent != tmp else "fresh export of the benchmarked model"),
            "image_size": info.image_size,
            "resolution": info.resolution,
            "mode": info.mode,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "peak_gflops_fp32_matmul": round(peak, 2),
        "onnxruntime_providers": backends["onnxruntime"].providers,
        "onnxruntime_graph_levels_v3_b1": levels,
        "tensorrt": tensorrt_note,
        "speedup_onnxruntime_over_torch": speedups,
        "targets": {
            "onnxruntime_over_torch_min_1.5x": bool(speedups) and min(speedups.values()) >= 1.5,
            "onnxruntime_v3_b1_under_30ms": ort_3 is not None and ort_3 < 30.0,
            "onnxruntime_v3_b1_p50_ms": ort_3,
        },
        "threads": args.threads,
        "load_average_start_end": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
    }
    path = write_result("inference", payload, path=args.out)
    print(f"wrote {path}")
    for v, b in cells:
        print(f"views {v} batch {b}: torch {p50('torch', v, b)} ms, onnxruntime {p50('onnxruntime', v, b)} ms")
    print(f"ORT/torch speedups {speedups}; ORT 3 views {ort_3} ms; peak {peak:.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
