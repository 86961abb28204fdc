import pytest
import torch
from detectron2.config import get_cfg
from torch import nn

from gpa.config import add_gpa_config
from gpa.engine.optimizer import build_optimizer, format_param_groups, make_param_groups


class _Toy(nn.Module):
    """Encoder (frozen + trainable), adapter and head parameters, with norm/embedding/scalar kinds."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
        self.encoder[0].weight.requires_grad_(False)
        self.adapter = nn.Linear(4, 2)
        self.head = nn.Linear(2, 3)
        self.queries = nn.Embedding(5, 2)
        self.logit_scale = nn.Parameter(torch.ones([]))

    def trainable_parameter_groups(self):
        def named(prefix, module):
            return [(f"{prefix}.{n}", p) for n, p in module.named_parameters() if p.requires_grad]

        return {
            "encoder": named("encoder", self.encoder),
            "adapter": named("adapter", self.adapter),
            "head": named("head", self.head) + named("queries", self.queries) + [("logit_scale", self.logit_scale)],
        }


def _cfg(**solver):
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.SOLVER.BASE_LR = 1e-3
    cfg.SOLVER.WEIGHT_DECAY = 0.05
    cfg.SOLVER.WEIGHT_DECAY_NORM = 0.0
    cfg.SOLVER.WEIGHT_DECAY_EMBED = 0.0
    cfg.SOLVER.ENCODER_LR_MULTIPLIER = 0.1
    cfg.SOLVER.ADAPTER_LR_MULTIPLIER = 2.0
    for k, v in solver.items():
        setattr(cfg.SOLVER, k, v)
    return cfg


def test_groups_have_owner_lr_and_kind_weight_decay():
    opt = build_optimizer(_cfg(), _Toy())
    groups = {g["name"]: g for g in opt.param_groups}
    assert set(groups) == {"encoder/default", "encoder/norm", "adapter/default", "head/default", "head/embed"}
    assert groups["encoder/default"]["param_names"] == ["encoder.0.bias"]  # frozen weight excluded
    assert groups["encoder/norm"]["param_names"] == ["encoder.1.weight", "encoder.1.bias"]
    assert groups["encoder/default"]["lr"] == pytest.approx(1e-4)
    assert groups["adapter/default"]["lr"] == pytest.approx(2e-3)
    assert groups["head/default"]["weight_decay"] == 0.05 and groups["encoder/norm"]["weight_decay"] == 0.0
    assert sorted(groups["head/embed"]["param_names"]) == ["logit_scale", "queries.weight"]
    assert isinstance(opt, torch.optim.AdamW)
    table = format_param_groups(opt.param_groups)
    assert "adapter/default" in table and "total" in table


def test_undeclared_or_duplicated_parameters_fail():
    model = _Toy()
    groups = model.trainable_parameter_groups()
    groups["head"] = groups["head"][:-1]
    with pytest.raises(ValueError, match="not declared in any group: \\['logit_scale'\\]"):
        make_param_groups(
            model, groups, 1.0, {"encoder": 1, "adapter": 1, "head": 1}, {"default": 0, "norm": 0, "embed": 0}
        )
    groups = model.trainable_parameter_groups()
    groups["adapter"] += groups["head"][:1]
    with pytest.raises(ValueError, match="declared in groups 'adapter' and 'head'"):
        make_param_groups(
            model, groups, 1.0, {"encoder": 1, "adapter": 1, "head": 1}, {"default": 0, "norm": 0, "embed": 0}
        )


def test_unknown_optimizer_name_lists_choices():
    with pytest.raises(ValueError, match=r"unknown optimizer 'LAMB' \(SOLVER.OPTIMIZER\); valid: ADAMW, SGD"):
        build_optimizer(_cfg(OPTIMIZER="LAMB"), _Toy())


def test_full_model_clipping_bounds_the_global_gradient_norm():
    cfg = _cfg(OPTIMIZER="SGD", BASE_LR=1.0, WEIGHT_DECAY=0.0, ENCODER_LR_MULTIPLIER=1.0, ADAPTER_LR_MULTIPLIER=1.0)
    cfg.SOLVER.CLIP_GRADIENTS.ENABLED = True
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "full_model"
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = 0.01
    cfg.SOLVER.MOMENTUM = 0.0
    model = _Toy()
    opt = build_optimizer(cfg, model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    (model.head(model.adapter(model.encoder(torch.randn(8, 4)))).sum() * 100 + model.logit_scale * 50).backward()
    opt.step()
    # with lr 1 and plain SGD the update is the clipped gradient: its global norm is the clip value
    update = torch.cat([(before[n] - p.detach()).flatten() for n, p in model.named_parameters()])
    assert update.norm().item() == pytest.approx(0.01, rel=1e-4)
