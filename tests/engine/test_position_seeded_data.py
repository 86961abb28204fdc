"""Augmentation as a function of (data seed, stream position): the same batches with or without workers, from
the start or resumed part-way, and a resumed training run with workers that ends bit-exactly where the
uninterrupted one does."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch

from gpa.engine import Trainer, build_config
from gpa.engine.position_seeded_dataset import PositionSeededMapDataset, position_seed
from tests.inference.helpers import TINY_CONFIG


def _noisy_mapper(entry: dict) -> dict:
    return {"i": entry["i"], "draws": (random.random(), float(np.random.rand()), float(torch.rand(())))}


def test_sample_depends_on_seed_and_position_only_and_global_rngs_are_restored():
    dataset = PositionSeededMapDataset([{"i": 0}, {"i": 1}], _noisy_mapper, data_seed=5)
    torch.manual_seed(0)
    first = dataset[(3, 1)]
    before = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    torch.manual_seed(123)
    np.random.seed(9)
    assert dataset[(3, 1)] == first  # whatever the global generators held
    assert dataset[(4, 1)] != first
    assert PositionSeededMapDataset([{"i": 0}, {"i": 1}], _noisy_mapper, 6)[(3, 1)] != first
    torch.manual_seed(0)
    dataset[(7, 0)]
    assert torch.equal(torch.get_rng_state(), before[0])  # mapping left the caller's generator where it was
    assert position_seed(5, 3) == position_seed(5, 3) != position_seed(5, 4)


def _batches(cfg, start_iter: int, count: int) -> list[list[dict]]:
    loader = Trainer.build_train_loader(cfg, seed=11, start_iter=start_iter)
    return list(itertools.islice(iter(loader), count))


def _same(a: list[list[dict]], b: list[list[dict]]) -> bool:
    for batch_a, batch_b in zip(a, b, strict=True):
        for x, y in zip(batch_a, batch_b, strict=True):
            if x["file_name"] != y["file_name"] or not torch.equal(x["image"], y["image"]):
                return False
            if not torch.equal(x["instances"].gt_masks.tensor, y["instances"].gt_masks.tensor):
                return False
    return True


@pytest.mark.slow
def test_batches_do_not_depend_on_workers_or_the_start():
    cfg = build_config(TINY_CONFIG, ["DATALOADER.NUM_WORKERS", "0"])
    with_workers = build_config(TINY_CONFIG, ["DATALOADER.NUM_WORKERS", "2"])
    full = _batches(cfg, 0, 5)
    assert _same(_batches(with_workers, 0, 5), full)
    assert _same(_batches(with_workers, 2, 3), full[2:])
    assert not _same(full[:1], full[1:2])  # the test can tell batches apart


def _train(out, resume: bool = False):
    cfg = build_config(TINY_CONFIG, ["OUTPUT_DIR", str(out), "SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2",
                                     "DATALOADER.NUM_WORKERS", "2", "DATASETS.TEST", "()"])
    torch.manual_seed(0)  # the same initialization of the frozen random-init CLIP in every run
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=resume)
    trainer.train()
    return trainer.model.state_dict()


@pytest.mark.slow
def test_resume_with_workers_is_bit_exact(tmp_path):
    import shutil

    full = _train(tmp_path / "full")
    cut = tmp_path / "cut"  # the same run as if killed after the checkpoint of iteration 1
    shutil.copytree(tmp_path / "full", cut)
    for name in ("model_0000003.pth", "model_final.pth"):
        (cut / name).unlink()
    (cut / "last_checkpoint").write_text("model_0000001.pth")
    resumed = _train(cut, resume=True)
    changed = [k for k in full if not torch.equal(full[k], resumed[k])]
    assert not changed, changed[:5]
