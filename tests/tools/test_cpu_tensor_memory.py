"""tools/cpu_tensor_memory.py: peak CPU tensor bytes, and the figure tools/benchmark.py prints from it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import benchmark  # noqa: E402
from cpu_tensor_memory import CPUTensorMemory, peak_and_net, state_bytes  # noqa: E402


@pytest.mark.parametrize(
    "deltas, expected",
    [([4, 2, -4, 1], (6, 3)), ([], (0, 0)), ([-5, 3], (0, -2)), ([1, -1, 2, -2], (2, 0))],
)
def test_peak_and_net_are_the_highest_and_final_running_sums(deltas, expected):
    assert peak_and_net(deltas) == expected


def test_allocations_inside_the_block_are_counted_to_the_byte():
    before = torch.ones(10)
    with CPUTensorMemory() as memory:
        a = torch.empty(1_000_000)  # 4 MB
        b = torch.empty(500_000, dtype=torch.float64)  # 4 MB
        del a
        c = torch.empty(250_000, dtype=torch.uint8)  # 0.25 MB
        del before  # allocated before the block: its release is not seen
    assert memory.peak_increase_bytes == 8_000_000
    assert memory.net_bytes == 4_250_000
    assert b.numel() + c.numel() == 750_000


def test_operator_outputs_and_freed_intermediates_are_counted():
    x = torch.randn(1000, 1000)
    with CPUTensorMemory() as memory:
        y = (x * 2).sum()  # the 4 MB product is freed once summed
    assert memory.peak_increase_bytes >= 4_000_000
    assert memory.net_bytes < 4_000_000
    assert y.dim() == 0


def test_state_bytes_counts_each_storage_once():
    a = torch.zeros(100)  # 400 bytes
    b = torch.zeros(10, dtype=torch.float64)  # 80 bytes
    assert state_bytes([a, a[10:], a.view(10, 10), b, b]) == 480


def test_benchmark_reports_peak_tensor_memory_of_a_training_step(tmp_path):
    args = benchmark.parse_args(
        ["--config-file", str(REPO / "configs/tiny/gpa_tiny.yaml"), "--size", "64", "--iters", "1",
         "--warmup", "0", "--tasks", "train", "--no-flops", "--device", "cpu"]
    )
    result = benchmark.run_single(args)
    peak = result["train"]["peak_tensor_gb"] * 2**30
    weights = result["params_total"] * 4  # fp32
    trainable_state = result["params_trainable"] * 4 * 3  # gradient and AdamW's two moments
    assert peak > weights + trainable_state
    assert peak < result["train"]["peak_memory_gb"] * 2**30  # the process holds more than its tensors
