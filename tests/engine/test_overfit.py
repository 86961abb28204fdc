"""A real training run of the tiny config: the loss falls and a handful of images is overfit."""

from __future__ import annotations

import json
import statistics

import pytest


@pytest.mark.slow
def test_tiny_model_overfits_four_images(tiny_cfg, coco_like):
    from gpa.engine import Trainer

    name = coco_like
    cfg = tiny_cfg
    cfg.DATASETS.TRAIN = (name,)
    cfg.DATASETS.TEST = (name,)
    cfg.INPUT.DATASET_MAPPER_NAME = "panoptic_lsj"
    cfg.INPUT.IMAGE_SIZE = 96
    cfg.INPUT.MIN_SCALE = 1.0  # overfitting: no scale jitter
    cfg.INPUT.MAX_SCALE = 1.0
    cfg.INPUT.RANDOM_FLIP = "none"
    cfg.INPUT.MIN_SIZE_TEST = 64
    cfg.SOLVER.IMS_PER_BATCH = 4
    cfg.SOLVER.BASE_LR = 1e-3
    cfg.SOLVER.MAX_ITER = 300
    cfg.SOLVER.LOG_PERIOD = 1
    cfg.SOLVER.CHECKPOINT_PERIOD = 100000
    cfg.freeze()
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()

    metrics = [json.loads(line) for line in open(f"{cfg.OUTPUT_DIR}/metrics.json")]
    losses = [m["total_loss"] for m in metrics if "total_loss" in m]
    first, last = statistics.mean(losses[:20]), statistics.mean(losses[-20:])
    results = Trainer.test(cfg, trainer.model)[name]
    print(
        f"loss first-20 mean {first:.3f} -> last-20 mean {last:.3f}; "
        f"PQ {results['panoptic_seg']['PQ']:.1f} mIoU {results['sem_seg']['mIoU']:.1f} AP {results['segm']['AP']:.1f}"
    )
    assert last < 0.5 * first
    assert results["panoptic_seg"]["PQ"] > 70.0
    assert results["sem_seg"]["mIoU"] > 80.0
