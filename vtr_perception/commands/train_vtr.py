"""`vtr-perception train-vtr`: VTR fine-tuning of an aligned-view reconstructor checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vtr_perception import config as cfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vtr_perception.train.vtr import VTRConfig

    parser.add_argument("--config", help="YAML file with VTRConfig fields (flags override it)")
    cfg.add_arguments(parser, VTRConfig)


def _predict(model, images, rotations):
    return model(images, rotations if model.pose_aware else None)["occupancy"]


def _loss_fn(pose_aware: bool):
    """The reconstructor trainer's weighted loss (occupancy, per-view, pose, error terms), reused as is.

    Synthesized batches carry their target angles, so the pose head learns the new views too.
    """
    from vtr_perception.train.losses import reconstruction_losses
    from vtr_perception.train.trainer import TrainConfig

    weights = TrainConfig()

    def loss(model, batch):
        outputs = model(batch["images"], batch["rotations"] if pose_aware else None)
        terms = reconstruction_losses(
            outputs, batch["voxels"], batch["azimuth"], batch["elevation"], kind=weights.occupancy_loss
        )
        return (
            terms["occupancy"]
            + weights.view_weight * terms["view"]
            + weights.pose_weight * terms["pose"]
            + weights.error_weight * terms["error"]
        )

    return loss


def run(args: argparse.Namespace) -> int:
    from torch.utils.data import ConcatDataset

    from vtr_perception.data.dataset import ViewDataset
    from vtr_perception.models.checkpoint import load_checkpoint, save_checkpoint
    from vtr_perception.train.synthesis import make_synthesizer
    from vtr_perception.train.vtr import VTRConfig, run_vtr

    base = cfg.load_yaml(VTRConfig, args.config) if args.config else None
    config = cfg.from_args(VTRConfig, args, base=base)
    model, model_config, metadata = load_checkpoint(config.base)
    # The same caches in the same order, so index i is the same object in both sets.
    train_set = ConcatDataset(
        [
            ViewDataset(c, split="train", view_set="aligned", num_views=config.num_views, seed=config.seed)
            for c in config.caches
        ]
    )
    source_set = ConcatDataset(
        [
            ViewDataset(c, split="train", view_set="aligned", num_views=1, seed=config.seed, fixed=True)
            for c in config.caches
        ]
    )
    synthesizer = None
    if config.selection != "none":
        options = {}
        if config.synth == "diffusion":
            options = {"num_inference_steps": config.synth_steps, "cache_dir": config.synth_cache}
        elif config.synth == "zero123":
            options = {"num_inference_steps": config.synth_steps}
        synthesizer = make_synthesizer(config.synth, data_caches=config.caches, model_dir=config.synth_model, **options)
    vtr_meta = {"base": config.base, "vtr": cfg.to_dict(config), "base_metadata": metadata}

    def save(m, entry):
        save_checkpoint(config.out, m, metadata={**vtr_meta, "epochs_done": entry["epoch"] + 1})

    logs = run_vtr(
        model,
        config,
        train_set=train_set,
        source_set=source_set,
        synthesizer=synthesizer,
        predict=_predict,
        loss_fn=_loss_fn(model.pose_aware),
        save=save,
    )
    if not logs:
        save_checkpoint(config.out, model, metadata=vtr_meta)
    summary = [{k: v for k, v in e.items() if k != "pool"} for e in logs]
    print(json.dumps({"out": str(Path(config.out)), "epochs": summary}, indent=2))
    return 0
