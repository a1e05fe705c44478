"""`vtr-perception train`: train the reconstructor from a YAML config plus flag overrides."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vtr_perception.config import add_arguments as add_config_arguments
    from vtr_perception.models import ReconstructorConfig
    from vtr_perception.train.trainer import TrainConfig

    parser.add_argument("--config", default=None, help="training YAML with sections model: and train:")
    parser.add_argument("--resume", action="store_true", help="continue from <out_dir>/last.pt")
    add_config_arguments(parser, ReconstructorConfig)
    add_config_arguments(parser, TrainConfig)


def run(args: argparse.Namespace) -> int:
    from vtr_perception.config import from_args
    from vtr_perception.models import ReconstructorConfig
    from vtr_perception.train.trainer import TrainConfig, load_train_yaml, train

    model_config, train_config = ReconstructorConfig(), TrainConfig()
    if args.config:
        model_config, train_config = load_train_yaml(args.config)
    model_config = from_args(ReconstructorConfig, args, base=model_config)
    train_config = from_args(TrainConfig, args, base=train_config)
    metrics = train(model_config, train_config, resume=args.resume)
    print(json.dumps({"out_dir": train_config.out_dir, **metrics}))
    return 0
