"""tools/benchmark.py --interleave: every config in one process, iterations alternating, figures per config."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import benchmark  # noqa: E402

TINY = str(REPO / "configs/tiny/gpa_tiny.yaml")


def args_for(*config_files: str):
    return benchmark.parse_args(
        ["--config-file", *config_files, "--size", "64", "--iters", "2", "--warmup", "1", "--tasks", "train",
         "--no-flops", "--device", "cpu", "--interleave"]
    )


def test_interleaved_iterations_alternate_and_each_config_gets_its_own_figures(tmp_path, monkeypatch):
    frozen = tmp_path / "frozen.yaml"
    frozen.write_text(f'_BASE_: "{TINY}"\nMODEL:\n  ADAPTER:\n    ENABLED: False\n')
    calls = []
    original_step = benchmark.ConfigBench.step

    def step(self, task):
        calls.append(self.result["config"])
        return original_step(self, task)

    monkeypatch.setattr(benchmark.ConfigBench, "step", step)
    results = benchmark.run_interleaved(args_for(TINY, str(frozen)))
    gpa, base = TINY, str(frozen)
    # warmup round A B, then B A, A B; then one untimed step each for the peak tensor memory
    assert calls == [gpa, base, base, gpa, gpa, base, gpa, base]
    assert [r["config"] for r in results] == [gpa, base]
    assert results[0]["params_trainable"] > results[1]["params_trainable"]  # the adapters train in the first
    for result in results:
        train = result["train"]
        assert train["peak_memory_gb"] is None  # the process holds both models: no per-config resident peak
        assert train["sec_per_iter"] > 0 and train["images_per_sec"] == 1 / train["sec_per_iter"]
        assert train["peak_tensor_gb"] > 0 and len(train["iteration_sec"]) == 2
        assert train["sec_per_iter"] == statistics.median(train["iteration_sec"])
    (line,) = benchmark.ratio_lines(results)
    ratio = results[0]["train"]["sec_per_iter"] / results[1]["train"]["sec_per_iter"]
    tensor_ratio = results[0]["train"]["peak_tensor_gb"] / results[1]["train"]["peak_tensor_gb"]
    assert line == f"train: {gpa} takes {ratio:.2f}x the time of {base} ({tensor_ratio:.2f}x its peak tensor memory)"
    assert results[0]["train"]["peak_tensor_gb"] > results[1]["train"]["peak_tensor_gb"]


def test_interleaved_peak_tensor_memory_is_the_separate_runs():
    """It counts one config's state and its step's allocations, so the other model in the process is not in it."""
    separate = benchmark.run_single(benchmark.parse_args(
        ["--config-file", TINY, "--size", "64", "--iters", "1", "--warmup", "0", "--tasks", "train",
         "--no-flops", "--device", "cpu"]
    ))
    interleaved = benchmark.run_interleaved(args_for(TINY, TINY))
    for result in interleaved:
        assert result["train"]["peak_tensor_gb"] == separate["train"]["peak_tensor_gb"]


def test_alternating_order():
    assert benchmark.alternating_order(3, 3) == [0, 1, 2, 2, 1, 0, 0, 1, 2]
    assert benchmark.alternating_order(2, 1) == [0, 1]
