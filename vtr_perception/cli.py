"""`vtr-perception <subcommand>`: one CLI whose subcommands live in vtr_perception/commands/.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int`` and is
imported only when its subcommand runs, so `--help` stays fast and a missing optional
dependency of one command does not break the others.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import io
import logging
import signal
import sys

# subcommand -> (module under vtr_perception.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("data", "build and inspect rendered-view dataset caches"),
    "demo": ("demo", "closed-loop active reconstruction in simulation through the ROS 2 nodes"),
    "render": ("render", "render one view of a mesh file: rgb.png, depth.npy, mask.png, camera.json"),
    "voxelize": ("voxelize", "solid occupancy grid of a mesh file in its canonical cube"),
    "train": ("train", "train the multi-view reconstructor (HF Accelerate; CPU, GPU or multi-GPU)"),
    "eval": ("eval", "evaluate a reconstructor with baselines (ShapeNet-VTR protocol): JSON + markdown table"),
    "export": ("export", "export a checkpoint to ONNX (checker, simplification, parity with PyTorch, metadata)"),
    "build-engine": ("build_engine", "build the TensorRT engine of an ONNX model for this GPU (cached, locked)"),
    "train-synth": ("train_synth", "train the pose-conditioned diffusion view synthesizer on the synth object pool"),
    "train-vtr": ("train_vtr", "VTR fine-tuning: error-guided view selection + view synthesis on a base checkpoint"),
    "train-loop": ("train_loop", "fine-tune a reconstructor on its inputs in the simulated table-top loop"),
}


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtr-perception", description="Active multi-view 3D object reconstruction (vtr_perception)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name in sys.argv[1:2]:  # only the chosen command's module is imported (`vtr-perception --help` lists all)
            importlib.import_module(f"vtr_perception.commands.{module}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.command:
        parser.print_help()
        return 2
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: every thread's stack to stderr, for a run that seems stuck
        try:
            faulthandler.register(signal.SIGUSR1, all_threads=True)
        except (AttributeError, ValueError, io.UnsupportedOperation):
            pass  # stderr is no file (captured, as under pytest): nothing to dump to
    module = importlib.import_module(f"vtr_perception.commands.{args._module}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"vtr-perception {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"vtr-perception {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
