"""tools/benchmark_encoder_checkpointing.py: its loss sends gradients into the encoder laid out as the maps."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
from benchmark_encoder_checkpointing import loss_weights  # noqa: E402

from gpa.modeling.backbone import CLIPBackbone  # noqa: E402


def test_loss_gradients_reach_the_encoder_outputs_in_their_layout():
    torch.manual_seed(0)
    backbone = CLIPBackbone("gpa_tiny_convnext", checkpoint_stages=(0, 1, 2, 3), checkpoint_mode="minimal").train()
    outputs = backbone(torch.randn(1, 3, 64, 96))
    weights = loss_weights(outputs)
    again = loss_weights(outputs)  # fixed: the same weights every call
    assert set(weights) == set(outputs) and all(torch.equal(weights[name], again[name]) for name in weights)
    grads = torch.autograd.grad(sum((v * weights[k]).sum() for k, v in outputs.items()), list(outputs.values()))
    for (name, value), grad in zip(outputs.items(), grads):
        assert value.is_contiguous(memory_format=torch.channels_last) and not value.is_contiguous(), name
        assert grad.stride() == value.stride(), name  # a mean's gradient arrives as contiguous NCHW
        assert weights[name].stride() == value.stride() and weights[name].abs().sum() > 0, name
