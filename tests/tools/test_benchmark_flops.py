"""tools/benchmark.py's FLOP count handles aten::mm in its out= form, as semantic inference calls it."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from fvcore.nn import FlopCountAnalysis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import benchmark  # noqa: E402


class ProductInto(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = a.new_empty(a.shape[0], b.shape[1])
        torch.mm(a, b, out=out)
        return out


def test_mm_with_out_is_counted_as_m_k_n_multiply_adds():
    a, b = torch.rand(52, 20), torch.rand(20, 96)
    analysis = FlopCountAnalysis(ProductInto(), (a, b)).unsupported_ops_warnings(False)
    analysis.set_op_handle("aten::mm", benchmark.mm_flop_jit)
    assert analysis.total() == 52 * 20 * 96


class Product(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.mm(a, b)


def test_plain_mm_is_counted_alike():
    analysis = FlopCountAnalysis(Product(), (torch.rand(4, 5), torch.rand(5, 6))).unsupported_ops_warnings(False)
    analysis.set_op_handle("aten::mm", benchmark.mm_flop_jit)
    assert analysis.total() == 4 * 5 * 6
