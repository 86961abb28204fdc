"""Every extension point is a detectron2 Registry, listed in README's Extending table; gpa.registry.NamedRegistry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from detectron2.utils.registry import Registry

import gpa  # noqa: F401  (registration)
import gpa.data.mappers  # noqa: F401
from gpa.engine.lr_scheduler import LR_SCHEDULER_REGISTRY, build_lr_scheduler
from gpa.engine.optimizer import OPTIMIZER_REGISTRY
from gpa.evaluation import EVALUATOR_REGISTRY
from gpa.modeling.backbone import MODULATION_REGISTRY
from gpa.modeling.inference.ensemble import ENSEMBLE_FORMULA_REGISTRY, geometric_ensemble
from gpa.registry import NamedRegistry

REPO = Path(__file__).resolve().parents[1]


def _gpa_registries() -> dict[str, Registry]:
    found = {}
    for module_name, module in list(sys.modules.items()):
        if module_name == "gpa" or module_name.startswith("gpa."):
            for name, value in vars(module).items():
                if isinstance(value, Registry):
                    found[name] = value
    return found


def test_every_gpa_registry_is_in_the_readme_extending_table():
    registries = _gpa_registries()
    assert {"SPATIAL_MIXER_REGISTRY", "MAPPER_REGISTRY", "PROMPT_TEMPLATE_REGISTRY", "CLIP_ENCODER_REGISTRY",
            "MASK_CLASSIFIER_REGISTRY", "PIXEL_DECODER_REGISTRY", "TRANSFORMER_DECODER_REGISTRY",
            "MODULATION_REGISTRY", "ENSEMBLE_FORMULA_REGISTRY", "EVALUATOR_REGISTRY", "OPTIMIZER_REGISTRY",
            "LR_SCHEDULER_REGISTRY"} <= set(registries)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Extending"):readme.index("## Layout")]
    for name, registry in registries.items():
        assert f"{name}`" in table, f"{name} is missing from README's Extending table"
        for entry, _ in registry:
            if entry.startswith("_"):  # private members registered by tests (tests/modeling/test_mask_classifier.py)
                continue
            if name not in {"META_ARCH_REGISTRY", "BACKBONE_REGISTRY", "SEM_SEG_HEADS_REGISTRY"}:  # detectron2's
                assert f"`{entry}`" in table, f"{name} member {entry} is missing from README's Extending table"


def test_every_gpa_config_key_has_a_comment():
    lines = (REPO / "gpa" / "config.py").read_text(encoding="utf-8").splitlines()
    keys = [i for i, line in enumerate(lines) if line.strip().startswith("cfg.") and " = " in line]
    assert len(keys) > 90
    for i in keys:
        if "CN()" not in lines[i]:
            assert "#" in lines[i] or lines[i - 1].strip().startswith("#"), f"gpa/config.py:{i + 1} has no comment"


def test_named_registry_registers_under_a_config_value_and_names_the_key():
    registry = NamedRegistry("TEST", "test thing")

    @registry.register_as("the_thing")
    class Thing:
        pass

    @registry.register()
    def other():
        return 1

    assert isinstance(registry, Registry) and registry.get("the_thing") is Thing and registry.names() == [
        "other", "the_thing"]
    assert registry.get_for("other", "SOME.KEY") is other
    with pytest.raises(ValueError, match=r"unknown test thing 'thing' \(SOME.KEY\); valid: other, the_thing"):
        registry.get_for("thing", "SOME.KEY")
    with pytest.raises(ValueError, match="test thing 'the_thing' is already registered"):
        registry.register_as("the_thing")(object)


@pytest.mark.parametrize("registry, names", [
    (MODULATION_REGISTRY, ["residual", "scale_shift"]),
    (ENSEMBLE_FORMULA_REGISTRY, ["fcclip", "void_in_softmax"]),
    (EVALUATOR_REGISTRY, ["ade20k_panoptic_seg", "cityscapes_panoptic_seg", "coco_panoptic_seg",
                          "mapillary_vistas_panoptic_seg", "sem_seg"]),
    (OPTIMIZER_REGISTRY, ["ADAMW", "SGD"]),
    (LR_SCHEDULER_REGISTRY, ["WarmupCosineLR", "WarmupMultiStepLR", "WarmupPolyLR", "WarmupStepWithFixedGammaLR"]),
])
def test_former_plain_tables_are_named_registries(registry, names):
    assert isinstance(registry, NamedRegistry)
    assert [n for n in registry.names() if not n.startswith("_")] == names


def test_a_registered_ensemble_formula_and_schedule_are_used_by_name():
    """Adding a member is writing it with the decorator: the builder finds it by the config value."""
    if "_in_vocab_only" not in ENSEMBLE_FORMULA_REGISTRY:
        @ENSEMBLE_FORMULA_REGISTRY.register_as("_in_vocab_only")
        def _in_vocab_only(in_vocab_logits, cfa_logits, seen, alpha, beta, valid=None):
            return in_vocab_logits.softmax(dim=-1)

    logits = torch.randn(2, 4)
    out = geometric_ensemble(logits, torch.randn(2, 3), torch.ones(3, dtype=torch.bool), 0.4, 0.8,
                             formula="_in_vocab_only")
    torch.testing.assert_close(out, logits.softmax(dim=-1))

    if "_constant" not in LR_SCHEDULER_REGISTRY:
        @LR_SCHEDULER_REGISTRY.register_as("_constant")
        def _constant(cfg, optimizer):
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)

    from detectron2.config import get_cfg

    cfg = get_cfg()
    cfg.SOLVER.LR_SCHEDULER_NAME = "_constant"
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    scheduler = build_lr_scheduler(cfg, optimizer)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR) and scheduler.get_last_lr() == [0.5]
