"""load_backend: auto selection, one log line per rejected option, engine fallback without a crash."""

from __future__ import annotations

import importlib.util
import json
import logging

import pytest

from vtr_perception.infer import BackendUnavailable, default_model_dir, load_backend
from vtr_perception.infer.engine_cache import EngineTarget, file_sha256

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
no_tensorrt = pytest.mark.skipif(HAS_TENSORRT, reason="checks the path taken where TensorRT is absent")


def _messages(caplog, level):
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith("vtr_perception.infer")]


@no_tensorrt
def test_auto_logs_why_tensorrt_was_rejected_and_picks_onnxruntime(tiny_model_files, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    backend = load_backend("auto", model_dir=tiny_model_files[0], engine_cache=tmp_path)
    assert backend.name == "onnxruntime"
    infos = _messages(caplog, logging.INFO)
    assert [m for m in infos if "rejected" in m] == [
        "backend tensorrt rejected: tensorrt not importable (No module named 'tensorrt')"
    ]
    assert any(m.startswith("inference backend: onnxruntime") for m in infos)
    assert not _messages(caplog, logging.WARNING)


def test_garbage_engine_file_falls_back_to_onnxruntime_with_one_warning(tiny_model_files, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    engine = tmp_path / "reconstructor.engine"
    engine.write_bytes(b"\x7fgarbage, not a TensorRT plan")
    backend = load_backend("auto", model_dir=tiny_model_files[0], engine_path=engine)
    assert backend.name == "onnxruntime"
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 1 and "falling back to onnxruntime" in warnings[0] and "no build record" in warnings[0]


def test_engine_built_from_another_onnx_is_refused_with_one_warning(tiny_model_files, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    engine = tmp_path / "reconstructor.engine"
    engine.write_bytes(b"plan")
    stale = EngineTarget("f" * 64, "10.3.0", "Orin", (8, 7), "fp16", 4, 8)
    (tmp_path / "reconstructor.engine.json").write_text(json.dumps({"target": stale.to_record()}))
    assert file_sha256(tiny_model_files[0] / "reconstructor.onnx") != stale.onnx_sha256
    backend = load_backend("auto", model_dir=tiny_model_files[0], engine_path=engine)
    assert backend.name == "onnxruntime"
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 1 and "another ONNX model" in warnings[0]


def test_explicit_kind_that_cannot_load_raises_a_readable_error(tiny_model_files, tmp_path):
    engine = tmp_path / "x.engine"
    engine.write_bytes(b"garbage")
    with pytest.raises(BackendUnavailable, match="no build record"):
        load_backend("tensorrt", model_dir=tiny_model_files[0], engine_path=engine)
    with pytest.raises(ValueError, match="backend must be one of"):
        load_backend("tflite", model_dir=tiny_model_files[0])


def test_auto_without_onnx_uses_the_checkpoint_and_says_why(tiny_model_files, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    backend = load_backend("auto", model_dir=tmp_path, checkpoint=tiny_model_files[0] / "reconstructor.pt")
    assert backend.name == "torch"
    rejected = [m for m in _messages(caplog, logging.INFO) if "rejected" in m]
    assert len(rejected) == 2
    assert rejected[0].startswith("backend tensorrt rejected") and rejected[1].startswith(
        "backend onnxruntime rejected"
    )


def test_nothing_loadable_lists_every_reason(tmp_path):
    with pytest.raises(BackendUnavailable, match="tensorrt: .*onnxruntime: .*torch: no checkpoint"):
        load_backend("auto", model_dir=tmp_path)


def test_missing_explicit_paths_name_the_parameter(tmp_path):
    with pytest.raises(FileNotFoundError, match="onnx_path"):
        load_backend("onnxruntime", onnx_path=tmp_path / "missing.onnx")
    with pytest.raises(NotADirectoryError, match="model_dir"):
        load_backend("auto", model_dir=tmp_path / "missing")


def test_default_model_dir_honours_the_environment(tiny_model_files, monkeypatch):
    monkeypatch.setenv("VTR_PERCEPTION_MODEL_DIR", str(tiny_model_files[0]))
    assert default_model_dir() == tiny_model_files[0]
    assert load_backend("onnxruntime").onnx_path == tiny_model_files[0] / "reconstructor.onnx"


def test_corrupt_onnx_file_is_a_warning_and_auto_falls_back_to_the_checkpoint(tiny_model_files, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    (tmp_path / "reconstructor.onnx").write_bytes(b"not an onnx model")
    checkpoint = tiny_model_files[0] / "reconstructor.pt"
    backend = load_backend("auto", model_dir=tmp_path, checkpoint=checkpoint)
    assert backend.name == "torch"
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 1 and warnings[0].startswith("backend onnxruntime failed to load, falling back to torch")
