"""`vtr-perception train-synth`: train the diffusion view synthesizer on the data cache's synth split."""

from __future__ import annotations

import argparse
import json

from vtr_perception import config as cfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vtr_perception.train.synth_trainer import SynthTrainConfig
    from vtr_perception.train.synthesis.diffusion import DiffusionModelConfig

    parser.add_argument("--config", help="YAML file with 'train' and 'model' sections (flags override it)")
    cfg.add_arguments(parser, SynthTrainConfig)
    cfg.add_arguments(parser, DiffusionModelConfig)


def run(args: argparse.Namespace) -> int:
    from vtr_perception.train.synth_trainer import SynthTrainConfig, train_synthesizer
    from vtr_perception.train.synthesis.diffusion import DiffusionModelConfig

    train_base = cfg.load_yaml(SynthTrainConfig, args.config, section="train") if args.config else None
    model_base = cfg.load_yaml(DiffusionModelConfig, args.config, section="model") if args.config else None
    train_config = cfg.from_args(SynthTrainConfig, args, base=train_base)
    report = train_synthesizer(train_config, cfg.from_args(DiffusionModelConfig, args, base=model_base))
    print(json.dumps(report["scores"], indent=2))
    return 0
