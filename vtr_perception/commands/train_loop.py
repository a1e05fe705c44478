"""`vtr-perception train-loop`: fine-tune a reconstructor on loop crops (`vtr-perception data loop-crops`)."""

from __future__ import annotations

import argparse

from vtr_perception import config as cfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vtr_perception.train.loop_finetune import LoopFineTuneConfig

    cfg.add_arguments(parser, LoopFineTuneConfig)


def run(args: argparse.Namespace) -> int:
    from vtr_perception.train.loop_finetune import LoopFineTuneConfig, fine_tune

    config = cfg.from_args(LoopFineTuneConfig, args)
    metrics = fine_tune(config)
    print(
        f"{config.out}: validation crop IoU {metrics['val_crop_iou_base']:.4f} -> {metrics['val_crop_iou']:.4f} "
        f"({metrics['steps']} steps on {metrics['train_samples']} samples)"
    )
    return 0
