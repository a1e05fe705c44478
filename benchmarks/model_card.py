"""The model card's evaluation tables and its quality gate, from JSON (`make eval` runs all of it).

    python benchmarks/model_card.py gate [--model M] [--out J]   # the gate's small caches + eval -> quality_gate.json
    python benchmarks/model_card.py eval [--model M] [--name N]  # full test split per source -> eval_<N>_<source>.json
    python benchmarks/model_card.py card [--lower-reason TEXT]    # rewrite the generated sections of MODEL_CARD.md
    python benchmarks/model_card.py all                           # eval (shipped, renders), gate, card

The gate (tests/test_quality_gate.py, part of `make test`) renders a few test objects of each source with fixed seeds
and evaluates the shipped model on them through `vtr-perception eval`; it fails when a source's aligned or sphere
3-view IoU@0.4 is more than ``TOLERANCE`` below the value recorded in the card. `card` refuses to record a lower
value without ``--lower-reason``, which it writes into the card beside the table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import textwrap
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, ROOT  # noqa: E402

CARD = ROOT / "models" / "MODEL_CARD.md"
TOLERANCE = 0.02
# source name -> `vtr-perception data build` arguments of the gate's cache (test split only, 3 views per view set)
GATE_SOURCES: dict[str, list[str]] = {
    "pybullet": ["--source", "pybullet", "--split", "test", "--limit", "24"],
    "procedural": ["--source", "procedural:20", "--split", "test"],
}
GATE_VIEWS = "aligned=3,sphere=3"
GATE_SETTINGS = (("aligned", 3), ("sphere", 3))
# the full evaluation: standard caches (eval builds a missing one), their test splits, these view sets and counts
EVAL_CACHES = {"pybullet": ".cache/data/pybullet64", "procedural": ".cache/data/procedural64"}
EVAL_MODELS = {"shipped": "models/reconstructor.pt", "renders": "models/reconstructor_renders.pt"}
EVAL_SETTINGS = (("aligned", 1), ("aligned", 3), ("sphere", 1), ("sphere", 3))


def cli(argv: list[str]) -> None:
    from vtr_perception.cli import main

    code = main(argv)
    if code != 0:
        raise RuntimeError(f"vtr-perception {' '.join(argv)} exited with {code}")


def run_gate(model: str, work_dir: Path) -> dict:
    """Build the gate's caches under ``work_dir`` (resumed if there) and score ``model`` on each source."""
    sources = {}
    for name, build_args in GATE_SOURCES.items():
        cache, out = work_dir / name, work_dir / f"{name}.json"
        cli(
            [
                "data",
                "build",
                *build_args,
                "--views",
                GATE_VIEWS,
                "--workers",
                "1",
                "--out",
                str(cache),
                "--no-progress",
            ]
        )
        cli(["eval", "--model", model, "--source", str(cache), "--split", "test", "--view-sets", "aligned,sphere",
             "--num-views", "3", "--no-baselines", "--surface-points", "500", "--json", str(out),
             "--no-progress"])  # fmt: skip
        result = json.loads(out.read_text())
        rows = [r for r in result["results"] if r["method"] == "model"]
        sources[name] = {
            "build": "vtr-perception data build " + " ".join(build_args) + f" --views {GATE_VIEWS}",
            "objects": rows[0]["objects"],
            "iou": {f"{r['view_set']}_{r['num_views']}": round(r["iou"], 4) for r in rows},
            "per_category": {f"{r['view_set']}_{r['num_views']}": r["per_category"] for r in rows},
        }
    return {"model": model, "tolerance": TOLERANCE, "sources": sources}


def gate_table(gate: dict) -> str:
    lines = ["| source | objects | aligned, 3 views | sphere, 3 views |", "|---|---|---|---|"]
    for name, s in gate["sources"].items():
        lines.append(f"| {name} | {s['objects']} | {s['iou']['aligned_3']:.4f} | {s['iou']['sphere_3']:.4f} |")
    return "\n".join(lines)


def recorded_gate(card_text: str) -> dict[str, dict[str, float]]:
    """The gate values recorded in the card: {source: {"aligned_3": IoU, "sphere_3": IoU}}."""
    body = section(card_text, "quality-gate")
    recorded = {}
    for m in re.finditer(r"^\| (\w+) \| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$", body, re.MULTILINE):
        recorded[m.group(1)] = {"aligned_3": float(m.group(3)), "sphere_3": float(m.group(4))}
    if not recorded:
        raise ValueError("the model card's quality-gate section has no table")
    return recorded


def section(text: str, name: str) -> str:
    m = re.search(rf"<!-- BEGIN {name} .*?-->\n(.*?)<!-- END {name} -->", text, re.DOTALL)
    if m is None:
        raise ValueError(f"the model card has no generated section {name!r}")
    return m.group(1)


def replace_section(text: str, name: str, body: str) -> str:
    begin = re.search(rf"<!-- BEGIN {name} .*?-->\n", text)
    if begin is None:
        raise ValueError(f"the model card has no generated section {name!r}")
    end = text.index(f"<!-- END {name} -->", begin.end())
    return text[: begin.end()] + body + text[end:]


def lowering_notes(card_text: str) -> list[str]:
    return re.findall(r"^- Lowered .*$", section(card_text, "quality-gate"), re.MULTILINE)


def gate_section(gate: dict, notes: list[str]) -> str:
    counts = ", ".join(f"{n}: `{s['build']}`" for n, s in gate["sources"].items())
    text = (
        f"Model `{gate['model']}`, test objects only ({counts}); `vtr-perception eval --split test --view-sets "
        f"aligned,sphere --num-views 3 --no-baselines` on each, seed 0. IoU@0.4; JSON: "
        "`benchmarks/results/quality_gate.json`."
    )
    body = [
        textwrap.fill(text, width=116, break_on_hyphens=False, break_long_words=False),
        "",
        gate_table(gate),
        "",
    ]
    if notes:
        body += ["Recorded values lowered on purpose:", "", *notes, ""]
    return "\n".join(body)


def _cell(rows: dict, method: str, view_set: str, views: int) -> str:
    r = rows.get((method, view_set, views))
    return "-" if r is None else f"{r['iou']:.3f}"


def eval_section(results: dict[str, dict[str, dict]]) -> str:
    """results: {model label: {source: eval JSON}}."""
    head = " | ".join(f"{vs}, {n} view{'s' if n > 1 else ''}" for vs, n in EVAL_SETTINGS)
    lines = [f"| model | source (test objects) | {head} | retrieval, aligned 3 | clustering, aligned 3 |",
             "|---|---|" + "---|" * (len(EVAL_SETTINGS) + 2)]  # fmt: skip
    categories: list[str] = []
    for per_source in results.values():
        for source, result in per_source.items():
            rows = {(r["method"], r["view_set"], r["num_views"]): r for r in result["results"]}
            cells = " | ".join(_cell(rows, "model", vs, n) for vs, n in EVAL_SETTINGS)
            objects = rows[("model", "aligned", 3)]["objects"]
            baselines = f"{_cell(rows, 'retrieval', 'aligned', 3)} | {_cell(rows, 'clustering', 'aligned', 3)}"
            lines.append(f"| `{Path(result['model']).name}` | {source} ({objects}) | {cells} | {baselines} |")
            categories += [c for c in rows[("model", "aligned", 3)]["per_category"] if c not in categories]
    procedural = [(label, per["procedural"]) for label, per in results.items() if "procedural" in per]
    if procedural:
        cats = sorted(categories)
        lines += ["", "Procedural test objects per category, aligned, 3 views:", "",
                  "| model | " + " | ".join(c for c in cats if c != "random") + " |",
                  "|---|" + "---|" * len([c for c in cats if c != "random"])]  # fmt: skip
        for _, result in procedural:
            row = next(r for r in result["results"] if r["method"] == "model" and r["view_set"] == "aligned"
                       and r["num_views"] == 3)  # fmt: skip
            cells = " | ".join(f"{row['per_category'].get(c, float('nan')):.2f}" for c in cats if c != "random")
            lines.append(f"| `{Path(result['model']).name}` | {cells} |")
    files = ", ".join(f"`eval_{label}_{source}.json`" for label, per in results.items() for source in per)
    lines += ["", f"JSON in `benchmarks/results/`: {files}.", ""]
    return "\n".join(lines)


def load_eval_results() -> dict[str, dict[str, dict]]:
    results: dict[str, dict[str, dict]] = {}
    for label in EVAL_MODELS:
        for source in EVAL_CACHES:
            path = RESULTS_DIR / f"eval_{label}_{source}.json"
            if path.is_file():
                results.setdefault(label, {})[source] = json.loads(path.read_text())
    return results


def render_card(card_text: str, gate: dict, results: dict, *, lower_reason: str | None) -> str:
    """The card with its generated sections rewritten; ValueError for a lowered gate value without a reason."""
    notes = lowering_notes(card_text)
    try:
        recorded = recorded_gate(card_text)
    except ValueError:
        recorded = {}
    lowered = [
        f"{source} {key} {old:.4f} -> {gate['sources'][source]['iou'][key]:.4f}"
        for source, values in recorded.items()
        for key, old in values.items()
        if source in gate["sources"] and gate["sources"][source]["iou"][key] < old - 1e-3
    ]
    if lowered and not lower_reason:
        raise ValueError("recording lower gate values needs --lower-reason: " + "; ".join(lowered))
    if lowered:
        notes.append(f"- Lowered {date.today().isoformat()} ({', '.join(lowered)}): {lower_reason}")
    text = replace_section(card_text, "quality-gate", gate_section(gate, notes))
    if results:
        text = replace_section(text, "evaluation", eval_section(results))
    return text


def run_eval(model: str, name: str) -> None:
    caches = ",".join(EVAL_CACHES.values())
    for source, cache in EVAL_CACHES.items():
        cli(["eval", "--model", model, "--train-caches", caches, "--source", cache, "--split", "test",
             "--view-sets", "aligned,sphere", "--num-views", "1,3", "--no-progress",
             "--json", str(RESULTS_DIR / f"eval_{name}_{source}.json")])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["gate", "eval", "card", "all"])
    parser.add_argument("--model", default=EVAL_MODELS["shipped"], help="gate / eval: the checkpoint")
    parser.add_argument("--name", default="shipped", help="eval: results go to eval_<name>_<source>.json")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "quality_gate.json", help="gate: result JSON")
    parser.add_argument("--lower-reason", default=None, help="card: why a recorded gate value may go down")
    args = parser.parse_args(argv)
    command = " ".join(["python", "benchmarks/model_card.py", *(sys.argv[1:] if argv is None else argv)])
    if args.step in ("eval", "all"):
        for name, model in EVAL_MODELS.items() if args.step == "all" else [(args.name, args.model)]:
            run_eval(model, name)
    if args.step in ("gate", "all"):
        from _common import run_metadata

        with tempfile.TemporaryDirectory(prefix="vtr_gate_") as tmp:
            gate = run_gate(args.model, Path(tmp))
        args.out.write_text(json.dumps({**gate, "metadata": run_metadata(command)}, indent=2) + "\n")
        print(gate_table(gate))
    if args.step in ("card", "all"):
        gate = json.loads((RESULTS_DIR / "quality_gate.json").read_text())
        CARD.write_text(render_card(CARD.read_text(), gate, load_eval_results(), lower_reason=args.lower_reason))
        print(f"rewrote the generated sections of {CARD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
