#!/usr/bin/env python
"""Train or evaluate gpa models.

python tools/train_net.py --config-file configs/toy/gpa.yaml
python tools/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS output/model_final.pth
python tools/train_net.py --config-file CFG --num-gpus 8 [--resume] [KEY VALUE ...]
"""

from __future__ import annotations

import logging
import sys

from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

import gpa  # noqa: F401  (registers the model and datasets)
from gpa.checkpoint import GPACheckpointer
from gpa.config_loading import ConfigError
from gpa.engine import Trainer, build_config, check_run


def setup(args):
    cfg = build_config(args.config_file, args.opts)
    check_run(cfg, args.eval_only, args.config_file)
    default_setup(cfg, args)
    setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="gpa")
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        checkpointer = GPACheckpointer.from_config(cfg, model, cfg.OUTPUT_DIR, config_name=args.config_file)
        if not cfg.MODEL.WEIGHTS and not (args.resume and checkpointer.has_checkpoint()):
            raise ValueError("--eval-only needs trained weights: MODEL.WEIGHTS path/to/model.pth, or --resume")
        checkpointer.resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        return Trainer.test(cfg, model)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    logging.getLogger("gpa").info(f"Command line arguments: {args}")
    try:
        # checked here too, so a bad config fails with one line before any worker process starts
        check_run(build_config(args.config_file, args.opts), args.eval_only, args.config_file)
        launch(
            main,
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(args,),
        )
    except ConfigError as err:  # a bad config file or override: the message names it and the fix
        sys.exit(f"error: {err}")
