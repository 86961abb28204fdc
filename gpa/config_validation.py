"""Every config value with a valid range, checked when the config is loaded: one table, one place.

A value out of range would otherwise crash deep inside training (a ZeroDivisionError after an iteration
for SOLVER.CHECKPOINT_PERIOD 0, F.interpolate for NUM_OBJECT_QUERIES 0) or silently do nothing
(SOLVER.MAX_ITER -5 trains zero iterations and exits 0). Each rule names the key and its valid range.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from detectron2.config import CfgNode

__all__ = ["CONFIG_RULES", "CROSS_RULES", "DEVICE_KINDS", "Rule", "check_device", "validate_config"]

# torch device kind -> whether one is usable here
DEVICE_KINDS: dict[str, Callable[[], bool]] = {"cpu": lambda: True, "cuda": torch.cuda.is_available}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    """`key` is valid when `check(value)`; `valid` says what is valid, for the message."""

    key: str
    check: Callable[[Any], bool]
    valid: str


def integer(low: int, high: int | None = None) -> tuple[Callable[[Any], bool], str]:
    """An integer in [low, high] (no upper bound when high is None)."""
    def check(v: Any) -> bool:
        return _is_int(v) and v >= low and (high is None or v <= high)
    return check, f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"


def number(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False
           ) -> tuple[Callable[[Any], bool], str]:
    """A finite number between low and high (each bound included unless open)."""
    def check(v: Any) -> bool:
        if not _is_number(v) or (v <= low if low_open else v < low):
            return False
        return high is None or (v < high if high_open else v <= high)
    left = "(" if low_open else "["
    right = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
    return check, f"a finite number in {left}{low}, {right}"


def each(rule: tuple[Callable[[Any], bool], str], *, nonempty: bool = False) -> tuple[Callable[[Any], bool], str]:
    """A list or tuple whose every element satisfies `rule`."""
    check, valid = rule

    def check_all(v: Any) -> bool:
        return isinstance(v, list | tuple) and (len(v) > 0 or not nonempty) and all(check(x) for x in v)
    return check_all, f"a {'non-empty ' if nonempty else ''}list of {valid.removeprefix('a ').removeprefix('an ')}"


def one_of(*choices: Any) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in choices), f"one of {', '.join(map(repr, choices))}"


def _device_syntax(value: Any) -> bool:
    try:
        return isinstance(value, str) and torch.device(value).type in DEVICE_KINDS
    except RuntimeError:
        return False


def _rules(table: Sequence[tuple[str, tuple[Callable[[Any], bool], str]]]) -> tuple[Rule, ...]:
    return tuple(Rule(key, check, valid) for key, (check, valid) in table)


POSITIVE = integer(1)
NON_NEGATIVE = integer(0)
PROBABILITY = number(0.0, 1.0)
WEIGHT = number(0.0)

CONFIG_RULES: tuple[Rule, ...] = _rules([
    ("EXTENSIONS", (lambda v: isinstance(v, list | tuple) and all(isinstance(x, str) and x for x in v),
                    "a list of extension names (non-empty strings)")),
    # solver and schedule
    ("SOLVER.MAX_ITER", POSITIVE),
    ("SOLVER.IMS_PER_BATCH", POSITIVE),
    ("SOLVER.CHECKPOINT_PERIOD", POSITIVE),
    ("SOLVER.LOG_PERIOD", POSITIVE),
    ("SOLVER.CHECKPOINT_KEEP_LAST", NON_NEGATIVE),
    ("MODEL.CLIP.CHECKPOINT_GROUP_SIZE", POSITIVE),
    ("MODEL.MASK_FORMER.TEST.CHUNK_PIXELS", NON_NEGATIVE),
    ("SOLVER.BASE_LR", number(0.0, low_open=True)),
    ("SOLVER.MOMENTUM", number(0.0, 1.0, high_open=True)),
    ("SOLVER.WEIGHT_DECAY", WEIGHT),
    ("SOLVER.WEIGHT_DECAY_NORM", WEIGHT),
    ("SOLVER.WEIGHT_DECAY_EMBED", WEIGHT),
    ("SOLVER.ENCODER_LR_MULTIPLIER", WEIGHT),
    ("SOLVER.ADAPTER_LR_MULTIPLIER", WEIGHT),
    ("SOLVER.POLY_LR_POWER", WEIGHT),
    ("SOLVER.WARMUP_ITERS", NON_NEGATIVE),
    ("SOLVER.WARMUP_FACTOR", number(0.0, 1.0, low_open=True)),
    ("SOLVER.GAMMA", number(0.0, low_open=True)),
    ("SOLVER.STEPS", each(POSITIVE)),
    ("SOLVER.AMP.DTYPE", one_of("float16", "bfloat16")),
    ("SOLVER.CLIP_GRADIENTS.CLIP_TYPE", one_of("value", "norm", "full_model")),
    ("SOLVER.CLIP_GRADIENTS.CLIP_VALUE", number(0.0, low_open=True)),
    ("SOLVER.CLIP_GRADIENTS.NORM_TYPE", (lambda v: _is_number(v) and v > 0 or v == math.inf,
                                         "a number > 0, or inf (the max norm)")),
    ("TEST.EVAL_PERIOD", NON_NEGATIVE),
    ("DATALOADER.NUM_WORKERS", NON_NEGATIVE),
    # inputs
    ("INPUT.FORMAT", one_of("RGB", "BGR")),
    ("INPUT.RANDOM_FLIP", one_of("horizontal", "vertical", "none")),
    ("INPUT.IMAGE_SIZE", POSITIVE),
    ("INPUT.MIN_SCALE", number(0.0, low_open=True)),
    ("INPUT.MAX_SCALE", number(0.0, low_open=True)),
    ("INPUT.SIZE_DIVISIBILITY", NON_NEGATIVE),
    ("INPUT.MIN_SIZE_TEST", POSITIVE),
    ("INPUT.MAX_SIZE_TEST", POSITIVE),
    ("MODEL.DEVICE", (_device_syntax, f"a torch device of kind {', '.join(DEVICE_KINDS)} (e.g. 'cpu', 'cuda:0')")),
    ("MODEL.PIXEL_MEAN", each(number(0.0, 255.0))),
    ("MODEL.PIXEL_STD", each(number(0.0, low_open=True))),
    # CLIP encoder and adapters
    ("MODEL.CLIP.TEXT_CHUNK_SIZE", POSITIVE),
    ("MODEL.CLIP.VIT_PYRAMID_SCALES", each(number(0.0, low_open=True), nonempty=True)),
    ("MODEL.ADAPTER.RANK", POSITIVE),
    ("MODEL.ADAPTER.KERNEL_SIZE", POSITIVE),
    ("MODEL.ADAPTER.DILATION", POSITIVE),
    ("MODEL.ADAPTER.NUM_HEADS", POSITIVE),
    ("MODEL.ADAPTER.EVERY_K_BLOCKS", POSITIVE),
    ("MODEL.ADAPTER.STAGES", each(integer(0, 3))),
    # pixel decoder and transformer decoder
    ("MODEL.SEM_SEG_HEAD.CONVS_DIM", POSITIVE),
    ("MODEL.SEM_SEG_HEAD.MASK_DIM", POSITIVE),
    ("MODEL.SEM_SEG_HEAD.COMMON_STRIDE", one_of(4, 8, 16, 32)),
    ("MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_POINTS", POSITIVE),
    ("MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS", POSITIVE),
    ("MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS", NON_NEGATIVE),
    ("MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_DIM_FEEDFORWARD", POSITIVE),
    ("MODEL.MASK_FORMER.NUM_OBJECT_QUERIES", POSITIVE),
    ("MODEL.MASK_FORMER.HIDDEN_DIM", POSITIVE),
    ("MODEL.MASK_FORMER.NHEADS", POSITIVE),
    ("MODEL.MASK_FORMER.DIM_FEEDFORWARD", POSITIVE),
    ("MODEL.MASK_FORMER.DEC_LAYERS", POSITIVE),
    ("MODEL.MASK_FORMER.DROPOUT", number(0.0, 1.0, high_open=True)),
    ("MODEL.MASK_FORMER.NO_OBJECT_WEIGHT", WEIGHT),
    ("MODEL.MASK_FORMER.CLASS_WEIGHT", WEIGHT),
    ("MODEL.MASK_FORMER.MASK_WEIGHT", WEIGHT),
    ("MODEL.MASK_FORMER.DICE_WEIGHT", WEIGHT),
    ("MODEL.MASK_FORMER.TRAIN_NUM_POINTS", POSITIVE),
    ("MODEL.MASK_FORMER.OVERSAMPLE_RATIO", number(1.0)),
    ("MODEL.MASK_FORMER.IMPORTANCE_SAMPLE_RATIO", PROBABILITY),
    ("MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD", PROBABILITY),
    ("MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD", PROBABILITY),
    ("MODEL.MASK_FORMER.TEST.DETECTIONS_PER_IMAGE", POSITIVE),
    # GPA heads and the ensemble
    ("MODEL.GPA.IN_VOCAB_LOGIT_SCALE_MAX", number(0.0, low_open=True)),
    ("MODEL.GPA.OUT_VOCAB_LOGIT_SCALE_MAX", number(0.0, low_open=True)),
    ("MODEL.GPA.CFA.CONTEXT_DIM", POSITIVE),
    ("MODEL.GPA.CFA.NUM_CONTEXT_BLOCKS", NON_NEGATIVE),
    ("MODEL.GPA.CFA.NUM_MAPS", POSITIVE),
    ("MODEL.GPA.CFA.KEY_DIM", POSITIVE),
    ("MODEL.GPA.CFA.MASK_BIAS_EPS", number(0.0, low_open=True)),
    ("MODEL.GPA.CFA.LOSS_WEIGHT", WEIGHT),
    ("MODEL.GPA.ENSEMBLE_ALPHA", PROBABILITY),
    ("MODEL.GPA.ENSEMBLE_BETA", PROBABILITY),
])


@dataclass(frozen=True)
class CrossRule:
    """A rule tying several keys together; `message(cfg)` explains a violation."""

    keys: tuple[str, ...]
    check: Callable[[CfgNode], bool]
    message: Callable[[CfgNode], str]


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(("INPUT.MIN_SCALE", "INPUT.MAX_SCALE"), lambda c: c.INPUT.MIN_SCALE <= c.INPUT.MAX_SCALE,
              lambda c: f"INPUT.MIN_SCALE ({c.INPUT.MIN_SCALE}) must be <= INPUT.MAX_SCALE ({c.INPUT.MAX_SCALE})"),
    CrossRule(("INPUT.MIN_SIZE_TEST", "INPUT.MAX_SIZE_TEST"), lambda c: c.INPUT.MIN_SIZE_TEST <= c.INPUT.MAX_SIZE_TEST,
              lambda c: f"INPUT.MIN_SIZE_TEST ({c.INPUT.MIN_SIZE_TEST}) must be <= INPUT.MAX_SIZE_TEST "
                        f"({c.INPUT.MAX_SIZE_TEST})"),
    CrossRule(("MODEL.MASK_FORMER.HIDDEN_DIM", "MODEL.MASK_FORMER.NHEADS"),
              lambda c: c.MODEL.MASK_FORMER.HIDDEN_DIM % c.MODEL.MASK_FORMER.NHEADS == 0,
              lambda c: f"MODEL.MASK_FORMER.HIDDEN_DIM ({c.MODEL.MASK_FORMER.HIDDEN_DIM}) must be a multiple of "
                        f"MODEL.MASK_FORMER.NHEADS ({c.MODEL.MASK_FORMER.NHEADS})"),
    CrossRule(("MODEL.SEM_SEG_HEAD.CONVS_DIM", "MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS"),
              lambda c: c.MODEL.SEM_SEG_HEAD.CONVS_DIM
              % c.MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS == 0,
              lambda c: f"MODEL.SEM_SEG_HEAD.CONVS_DIM ({c.MODEL.SEM_SEG_HEAD.CONVS_DIM}) must be a multiple of "
                        "MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS "
                        f"({c.MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS})"),
    CrossRule(("MODEL.PIXEL_MEAN", "MODEL.PIXEL_STD"), lambda c: len(c.MODEL.PIXEL_MEAN) == len(c.MODEL.PIXEL_STD) == 3,
              lambda c: f"MODEL.PIXEL_MEAN and MODEL.PIXEL_STD need one value per RGB channel (3 each), got "
                        f"{len(c.MODEL.PIXEL_MEAN)} and {len(c.MODEL.PIXEL_STD)}"),
)


def _value(cfg: CfgNode, key: str) -> tuple[bool, Any]:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def validate_config(cfg: CfgNode, rules: Sequence[Rule] = CONFIG_RULES,
                    cross_rules: Sequence[CrossRule] = CROSS_RULES) -> None:
    """Raise ValueError listing every key whose value is outside its valid range (keys absent from `cfg` are
    skipped, so detectron2-only configs work too)."""
    problems = []
    for rule in rules:
        present, value = _value(cfg, rule.key)
        if present and not rule.check(value):
            problems.append(f"{rule.key} = {value!r}; valid: {rule.valid}")
    if not problems:  # cross rules assume each key is valid on its own
        for cross in cross_rules:
            if all(_value(cfg, k)[0] for k in cross.keys) and not cross.check(cfg):
                problems.append(cross.message(cfg))
    if problems:
        raise ValueError("invalid config value" + ("s" if len(problems) > 1 else "") + ": " + "; ".join(problems))


def check_device(device: str, where: str = "MODEL.DEVICE") -> str:
    """`device` if it is a torch device of a supported kind that exists here, else an error saying what to use."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a torch device; valid: {', '.join(DEVICE_KINDS)} "
                         f"({where})") from err
    if parsed.type not in DEVICE_KINDS:
        raise ValueError(f"device {device!r} is not supported; valid kinds: {', '.join(DEVICE_KINDS)} ({where})")
    if not DEVICE_KINDS[parsed.type]():
        raise ValueError(f"device {device!r} was asked for ({where}) but is not available here (torch sees no CUDA "
                         "GPU); use cpu, e.g. MODEL.DEVICE cpu")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} ({where}) does not exist: torch sees {torch.cuda.device_count()} GPU(s)")
    return device
