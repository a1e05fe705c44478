"""The README stays a user's page: short lines, at most 200 of them, and every result file it names exists.

The model card and the experiment record quote result files too; each name they give must be a committed
file under benchmarks/results/ (a glob such as ``tabletop_*_loop1.json`` must match one).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BENCH_DATA = REPO / "benchmarks" / "data"  # benchmark inputs kept in git (labels of a real recording)
JSON_NAME = re.compile(r"[\w*<>.-]+\.json")
# JSON files the docs name that are not benchmark results: the demo's outputs, the synthesizer's report
NOT_RESULTS = {"summary.json", "poses.json", "train_report.json", "<name>.json"}
QUOTING = ["README.md", "models/MODEL_CARD.md", "models/VIEW_SYNTH_CARD.md", "docs/experiments.md"]


def test_readme_has_at_most_200_lines_of_at_most_300_characters():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; history belongs in docs/experiments.md"
    long = [(i, len(line)) for i, line in enumerate(lines, 1) if len(line) > 300]
    assert not long, f"README.md lines over 300 characters (line, length): {long}"


def test_readme_quotes_committed_results():
    text = (REPO / "README.md").read_text()
    quoted = set(re.findall(r"benchmarks/results/[\w.-]+\.json", text))
    assert len(quoted) >= 5, "the README's numbers should each name the JSON they come from"
    assert all((REPO / path).is_file() for path in quoted), sorted(p for p in quoted if not (REPO / p).is_file())


@pytest.mark.parametrize("doc", QUOTING)
def test_every_result_file_a_doc_names_exists(doc):
    names = {Path(m).name for m in JSON_NAME.findall((REPO / doc).read_text())} - NOT_RESULTS
    missing = sorted(n for n in names if not list(RESULTS.glob(n)) and not list(BENCH_DATA.glob(n)))
    assert not missing, f"{doc} names result files that are not in benchmarks/results/ (or data/): {missing}"
