"""tools/profile_training.py: operator kinds, and a profiled iteration of the tiny config."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import profile_training  # noqa: E402


@pytest.mark.parametrize(
    "name, kind",
    [
        ("aten::mm", "matrix products"),
        ("aten::addmm", "matrix products"),
        ("aten::bmm", "matrix products"),
        ("aten::_scaled_dot_product_flash_attention_for_cpu", "attention"),
        ("aten::convolution_backward", "convolution"),
        ("aten::mkldnn_convolution", "convolution"),
        ("aten::grid_sampler_2d_backward", "grid sampling"),
        ("enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", "data loading"),
        ("Optimizer.step#AdamW.step", "optimizer step"),
        ("aten::mul", profile_training.OTHER),
        ("aten::copy_", profile_training.OTHER),
    ],
)
def test_kind_of(name, kind):
    assert profile_training.kind_of(name) == kind


def test_self_time_by_kind_sums_microseconds_to_seconds():
    events = [SimpleNamespace(key="aten::mm", self_cpu_time_total=1_500_000),
              SimpleNamespace(key="aten::bmm", self_cpu_time_total=500_000),
              SimpleNamespace(key="aten::add", self_cpu_time_total=250_000)]
    assert profile_training.self_time_by_kind(events) == {"matrix products": 2.0, profile_training.OTHER: 0.25}


def test_profiles_the_tiny_config(capsys):
    result = profile_training.main(["--config-file", str(REPO / "configs/tiny/gpa_tiny.yaml"), "--iters", "1",
                                    "--warmup", "1", "--rows", "5"])
    out = capsys.readouterr().out
    assert result["s_per_iter"] > 0
    assert result["ms_per_iter_by_kind"]["matrix products"] > 0
    assert "s/iteration" in out and "matrix products" in out and "Self CPU" in out


def test_refuses_more_iterations_than_max_iter():
    with pytest.raises(ValueError, match="SOLVER.MAX_ITER=2 is reached"):
        profile_training.main(["--config-file", str(REPO / "configs/tiny/gpa_tiny.yaml"), "--iters", "2",
                               "--warmup", "1", "--opts", "SOLVER.MAX_ITER", "2"])


def test_compile_names_an_unknown_child_module():
    with pytest.raises(ValueError, match="--compile nonexistent: the model has no child module 'nonexistent'; "
                                         "children: .*backbone"):
        profile_training.main(["--config-file", str(REPO / "configs/tiny/gpa_tiny.yaml"), "--iters", "1",
                               "--warmup", "0", "--compile", "nonexistent"])


def test_autocast_runs_under_the_dtype(capsys):
    profile_training.main(["--config-file", str(REPO / "configs/tiny/gpa_tiny.yaml"), "--iters", "1",
                           "--warmup", "0", "--rows", "3", "--autocast", "bf16"])
    assert "(autocast bf16)" in capsys.readouterr().out
