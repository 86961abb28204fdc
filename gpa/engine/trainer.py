"""The detectron2 trainer of gpa: declared parameter groups, resumable data order, CPU or GPU DDP,
and multi-benchmark evaluation printed as one table."""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections import OrderedDict
from typing import Any

import torch
from detectron2.config import CfgNode
from detectron2.data import (
    DatasetFromList,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.engine import AMPTrainer, DefaultTrainer, SimpleTrainer, TrainerBase, create_ddp_model, hooks
from detectron2.evaluation import inference_on_dataset
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from torch import nn

from gpa.checkpoint import GPACheckpointer, atomic_write_text
from gpa.modeling.meta_arch.gpa import INFERENCE_AMP_DTYPES

from .evaluation_mapper import EvaluationMapper
from .lr_scheduler import build_lr_scheduler
from .optimizer import build_optimizer
from .position_seeded_dataset import PositionSeededMapDataset
from .resumable_sampler import ResumableTrainingSampler
from .training_state import TrainingStateHook

__all__ = ["RESULTS_FILE", "Trainer"]

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"  # Trainer.test's results of every dataset, under OUTPUT_DIR/inference
AMP_DTYPES = INFERENCE_AMP_DTYPES  # SOLVER.AMP.DTYPE takes the same names as TEST.AMP.DTYPE


def resolve_data_seed(cfg: CfgNode) -> int:
    """cfg.SEED when set (>= 0), else one random seed shared by all ranks."""
    return cfg.SEED if cfg.SEED >= 0 else comm.shared_random_seed()


class Trainer(DefaultTrainer):
    """DefaultTrainer with gpa's optimizer, schedule, resumable sampler and evaluation table."""

    def __init__(self, cfg: CfgNode) -> None:
        TrainerBase.__init__(self)
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
            setup_logger()
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
        self.cfg = cfg
        self.training_state = TrainingStateHook(resolve_data_seed(cfg), cfg.SOLVER.CHECKPOINT_PERIOD,
                                                cfg.SOLVER.MAX_ITER)

        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg, seed=self.training_state.data_seed)
        on_cpu = next(model.parameters()).device.type == "cpu"
        model = create_ddp_model(model, broadcast_buffers=False, device_ids=None if on_cpu else [comm.get_local_rank()])
        if cfg.SOLVER.AMP.ENABLED:
            if cfg.SOLVER.AMP.DTYPE not in AMP_DTYPES:
                raise ValueError(f"SOLVER.AMP.DTYPE={cfg.SOLVER.AMP.DTYPE!r}; choose one of {sorted(AMP_DTYPES)}")
            if on_cpu:
                raise ValueError("SOLVER.AMP.ENABLED needs a CUDA device (MODEL.DEVICE=cuda); set it False on CPU")
            self._trainer = AMPTrainer(model, data_loader, optimizer, precision=AMP_DTYPES[cfg.SOLVER.AMP.DTYPE])
        else:
            self._trainer = SimpleTrainer(model, data_loader, optimizer)

        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = GPACheckpointer.from_config(cfg, model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        logger.info("Checkpoints " + ("leave out the frozen CLIP weights (MODEL.CLIP.PRETRAINED provides them)"
                                      if self.checkpointer.lean else "hold every weight"))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.register_hooks(self.build_hooks())

    # ------------------------------------------------------------------ building blocks
    @classmethod
    def build_optimizer(cls, cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
        return build_optimizer(cfg, model)

    @classmethod
    def build_lr_scheduler(cls, cfg: CfgNode, optimizer: torch.optim.Optimizer):
        return build_lr_scheduler(cfg, optimizer)

    @classmethod
    def build_train_loader(cls, cfg: CfgNode, seed: int | None = None, start_iter: int = 0):
        """Training loader whose order and augmentations are fixed by `seed` (see PositionSeededMapDataset) and
        that starts after `start_iter` iterations."""
        from gpa.data.mappers import build_train_mapper

        dicts = get_detection_dataset_dicts(cfg.DATASETS.TRAIN, filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)
        seed = resolve_data_seed(cfg) if seed is None else seed
        dataset = PositionSeededMapDataset(DatasetFromList(dicts, copy=False), build_train_mapper(cfg, is_train=True),
                                           seed)
        sampler = ResumableTrainingSampler(len(dicts), seed, start_index=start_iter * cfg.SOLVER.IMS_PER_BATCH,
                                           yield_positions=True)
        return build_detection_train_loader(
            dataset=dataset,
            mapper=None,
            sampler=sampler,
            total_batch_size=cfg.SOLVER.IMS_PER_BATCH,
            aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
            num_workers=cfg.DATALOADER.NUM_WORKERS,
        )

    @classmethod
    def build_test_loader(cls, cfg: CfgNode, dataset_name: str):
        return build_detection_test_loader(cfg, dataset_name, mapper=EvaluationMapper.from_config(cfg))

    @classmethod
    def build_evaluator(cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None):
        from gpa.evaluation import build_evaluator

        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return build_evaluator(cfg, dataset_name, output_folder)

    def build_hooks(self) -> list[hooks.HookBase]:
        cfg = self.cfg
        ret: list[hooks.HookBase] = [hooks.IterationTimer(), hooks.LRScheduler(), self.training_state]
        if comm.is_main_process():
            keep = cfg.SOLVER.CHECKPOINT_KEEP_LAST
            ret.append(hooks.PeriodicCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD,
                                                  max_to_keep=keep if keep > 0 else None))

        def test_and_save_results():
            self._last_eval_results = self.test(self.cfg, self.model)
            return self._last_eval_results

        ret.append(hooks.EvalHook(cfg.TEST.EVAL_PERIOD, test_and_save_results))
        if comm.is_main_process():
            ret.append(hooks.PeriodicWriter(self.build_writers(), period=cfg.SOLVER.LOG_PERIOD))
        return ret

    # ------------------------------------------------------------------ resume
    def resume_or_load(self, resume: bool = True) -> None:
        """Load weights (or resume everything from the newest checkpoint that reads); a resumed run continues the
        same data order."""
        self.checkpointer.resume_or_load(self.cfg.MODEL.WEIGHTS, resume=resume)
        self.start_iter = self.iter + 1 if self.checkpointer.resumed_from else 0
        if self.start_iter > 0:
            self._trainer.data_loader = self.build_train_loader(
                self.cfg, seed=self.training_state.data_seed, start_iter=self.start_iter
            )
            # Creating a DataLoader iterator draws from torch's RNG; the interrupted run drew that at
            # iteration 0, before the saved RNG state, so draw it now and put the saved state back.
            rng_state = torch.get_rng_state()
            self._trainer._data_loader_iter_obj = iter(self._trainer.data_loader)
            torch.set_rng_state(rng_state)
            logger.info(f"Resumed at iteration {self.start_iter} with data-order seed {self.training_state.data_seed}")

    def run_step(self) -> None:
        """One iteration; on divergence the checkpoint written one iteration earlier, whose weights produced the
        non-finite values, is renamed so that --resume and last_checkpoint never pick it."""
        try:
            super().run_step()
        except FloatingPointError as err:
            saved = self.checkpointer.last_saved
            if saved is not None and saved[1] == self.iter - 1:
                self.checkpointer.quarantine_last_saved(f"its weights gave non-finite values at iteration {self.iter}")
            raise FloatingPointError(f"iteration {self.iter}: {err}") from err

    # ------------------------------------------------------------------ evaluation
    @classmethod
    def test(cls, cfg: CfgNode, model: nn.Module, evaluators=None) -> OrderedDict[str, Any]:
        """Evaluate every dataset of DATASETS.TEST (each with its own vocabulary); log one table and write the
        results to OUTPUT_DIR/inference/results.json."""
        from gpa.evaluation import format_results_table

        results: OrderedDict[str, Any] = OrderedDict()
        for index, name in enumerate(cfg.DATASETS.TEST):
            loader = cls.build_test_loader(cfg, name)
            evaluator = evaluators[index] if evaluators is not None else cls.build_evaluator(cfg, name)
            results[name] = inference_on_dataset(model, loader, evaluator)
        if comm.is_main_process():
            logger.info("Evaluation results:\n" + format_results_table(results))
            path = os.path.join(cfg.OUTPUT_DIR, "inference", RESULTS_FILE)
            # read back by tools such as gpa_toy/tools/toy_report.py
            atomic_write_text(path, json.dumps(results, indent=1, default=float))
        return results
