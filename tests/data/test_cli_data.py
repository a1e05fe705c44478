"""`vtr-perception data build|info` end to end on a tiny set (two worker processes), and bad input."""

from __future__ import annotations

import json

from vtr_perception import cli


def test_data_build_and_info(tmp_path, capsys):
    out = tmp_path / "cache"
    argv = ["data", "build", "--source", "procedural:2", "--out", str(out), "--size", "16", "--limit", "3"]
    argv += ["--views", "aligned=2,sphere=1", "--workers", "2", "--no-progress"]
    assert cli.main(argv) == 0
    assert "3 objects" in capsys.readouterr().out
    index = json.loads((out / "index.json").read_text())
    assert index["config"]["views"] == {"aligned": 2, "sphere": 1} and len(index["objects"]) == 3
    assert cli.main(["data", "info", "--cache", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objects"] == 3 and sum(summary["per_split"].values()) == 3
    assert set(summary["per_category"]) == {"chair", "table", "mug"}
    assert cli.main(["data", "info", "--cache", str(out)]) == 0
    assert "per split" in capsys.readouterr().out


def test_bad_source_and_missing_cache_give_one_line_errors(tmp_path, capsys):
    assert cli.main(["data", "build", "--source", "nosuch", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vtr-perception data: error: unknown mesh source 'nosuch'") and "\n" not in err
    assert cli.main(["data", "info", "--cache", str(tmp_path / "missing")]) == 2
    assert "index.json missing" in capsys.readouterr().err
    assert cli.main(["data", "build", "--source", "procedural", "--out", str(tmp_path), "--views", "up=3"]) == 2
    assert "view sets" in capsys.readouterr().err
