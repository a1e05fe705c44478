"""View synthesizers behind one interface: ``render`` (true mesh), ``diffusion`` (ours), ``zero123``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vtr_perception.train.synthesis.base import ViewSynthesizer, relative_angles_deg, relative_camera

SYNTHESIZERS: tuple[str, ...] = ("render", "diffusion", "zero123")


def make_synthesizer(
    name: str,
    *,
    data_caches: str | Path | Sequence[str | Path] | None = None,
    model_dir: str | Path | None = None,
    **options,
) -> ViewSynthesizer:
    """Build a synthesizer by name; ``data_caches`` for "render", ``model_dir`` for "diffusion"/"zero123"."""
    if name == "render":
        if not data_caches:
            raise ValueError("the render synthesizer needs the data cache directories (--caches)")
        from vtr_perception.train.synthesis.render import RenderSynthesizer

        return RenderSynthesizer(data_caches)
    if name == "diffusion":
        from vtr_perception.train.synthesis.diffusion import DiffusionSynthesizer

        if model_dir is None:
            raise ValueError("the diffusion synthesizer needs --synth-model (a directory from train-synth)")
        return DiffusionSynthesizer.from_pretrained(model_dir, **options)
    if name == "zero123":
        from vtr_perception.train.synthesis.zero123 import Zero123Synthesizer

        if model_dir is None:
            raise ValueError("the zero123 synthesizer needs --synth-model (a local Zero-1-to-3 diffusers directory)")
        return Zero123Synthesizer(model_dir, **options)
    raise ValueError(f"unknown synthesizer {name!r}; expected one of {', '.join(SYNTHESIZERS)}")


__all__ = ["SYNTHESIZERS", "ViewSynthesizer", "make_synthesizer", "relative_angles_deg", "relative_camera"]
