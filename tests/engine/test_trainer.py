"""The Trainer in-process on a generated COCO-panoptic dataset: training, then PQ / mIoU / AP."""

from __future__ import annotations

import torch


def test_trainer_trains_then_evaluates_pq_miou_ap(tiny_cfg, coco_like):
    from gpa.engine import Trainer

    cfg = tiny_cfg
    cfg.DATASETS.TRAIN = (coco_like,)
    cfg.DATASETS.TEST = (coco_like,)
    cfg.SOLVER.MAX_ITER = 4
    cfg.SOLVER.IMS_PER_BATCH = 2
    cfg.INPUT.IMAGE_SIZE = 64
    cfg.INPUT.MIN_SIZE_TEST = 64
    cfg.freeze()
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()
    assert trainer.iter == cfg.SOLVER.MAX_ITER
    changed = [n for n, p in trainer.model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert any("adapter" in n for n in changed) and any(n.startswith("sem_seg_head.") for n in changed)

    results = Trainer.test(cfg, trainer.model)
    metrics = results[coco_like]
    assert {"panoptic_seg", "sem_seg", "segm"} <= set(metrics)
    assert 0.0 <= metrics["panoptic_seg"]["PQ"] <= 100.0
    assert 0.0 <= metrics["sem_seg"]["mIoU"] <= 100.0
