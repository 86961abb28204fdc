#!/usr/bin/env python
"""The toy-world study: GPA vs frozen CLIP vs full fine-tuning, same budget, several seeds each.

Each run is `tools/train_net.py --config-file configs/toy/<config>.yaml SEED <seed>` followed by
`gpa_toy/tools/toy_report.py`; runs whose report exists (same iteration budget) are reused, so an interrupted study
resumes. The study writes a table of mean +- std over seeds (with the command, the machine and the date), a
plot, and the raw numbers:

python gpa_toy/tools/toy_study.py                       # 3 configs x 3 seeds -> docs/toy/study.{md,png,json}
python gpa_toy/tools/toy_study.py --iters 20 --seeds 0 --runs-dir /tmp/study --docs-dir /tmp/study   # a smoke test

A difference between two configs counts only when it exceeds the seed spread (the sum of the two standard
deviations); smaller differences are reported as ties.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "configs" / "toy"
TRAIN_NET, TOY_REPORT = REPO / "tools" / "train_net.py", Path(__file__).resolve().parent / "toy_report.py"
REPORT_JSON = "toy_report.json"  # written by gpa_toy/tools/toy_report.py
CONFIGS = ("gpa", "frozen_clip", "full_finetune")
LABELS = {"gpa": "GPA (adapters)", "frozen_clip": "frozen CLIP", "full_finetune": "full fine-tuning"}

# metric key -> (title, where it is in a toy report)
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "miou_seen": ("mIoU seen", ("segmentation", "mIoU", "seen")),
    "miou_unseen": ("mIoU unseen", ("segmentation", "mIoU", "unseen")),
    "miou_hm": ("mIoU hm", ("segmentation", "mIoU", "hm")),
    "pq_seen": ("PQ seen", ("segmentation", "PQ", "seen")),
    "pq_unseen": ("PQ unseen", ("segmentation", "PQ", "unseen")),
    "pq_hm": ("PQ hm", ("segmentation", "PQ", "hm")),
    "crop_before_seen": ("crop acc. seen, before", ("crop_accuracy", "before", "seen")),
    "crop_before_unseen": ("crop acc. unseen, before", ("crop_accuracy", "before", "unseen")),
    "crop_before_all": ("crop acc. all, before", ("crop_accuracy", "before", "all")),
    "crop_after_seen": ("crop acc. seen, after", ("crop_accuracy", "after", "seen")),
    "crop_after_unseen": ("crop acc. unseen, after", ("crop_accuracy", "after", "unseen")),
    "crop_after_all": ("crop acc. all, after", ("crop_accuracy", "after", "all")),
}
TABLE = ("miou_seen", "miou_unseen", "miou_hm", "pq_seen", "pq_unseen", "pq_hm", "crop_before_unseen",
         "crop_after_seen", "crop_after_unseen", "crop_after_all")
PLOTTED_SEGMENTATION = ("miou_seen", "miou_unseen", "miou_hm", "pq_seen", "pq_unseen", "pq_hm")
PLOTTED_CROPS = {"crop_after_seen": "crop_before_seen", "crop_after_unseen": "crop_before_unseen",
                 "crop_after_all": "crop_before_all"}  # after -> before (the pretrained CLIP's, drawn as a mark)
COMPARED = ("miou_unseen", "miou_hm", "pq_unseen", "pq_hm", "crop_after_unseen", "crop_after_all")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help=f"configs/toy/<name>.yaml; {CONFIGS}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iters", type=int, help="SOLVER.MAX_ITER of every run (default: the configs' own)")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "output" / "toy_study", help="where runs go")
    parser.add_argument("--docs-dir", type=Path, default=REPO / "docs" / "toy", help="where study.{md,png,json} go")
    parser.add_argument("--crops-per-class", type=int, default=16, help="held-out crops per class (toy_report)")
    parser.add_argument("--force", action="store_true", help="rerun runs that already have a report")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides for every run")
    args = parser.parse_args(argv)
    unknown = [c for c in args.configs if not (CONFIG_DIR / f"{c}.yaml").is_file()]
    if unknown:
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        parser.error(f"unknown toy config(s) {unknown}; configs/toy has {known}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    if args.iters is not None and args.iters <= 0:
        parser.error(f"--iters must be positive, got {args.iters}")
    if args.crops_per_class <= 0:
        parser.error(f"--crops-per-class must be positive, got {args.crops_per_class}")
    return args


# ---------------------------------------------------------------------------------------------- runs
def run_dir(runs_dir: Path, config: str, seed: int) -> Path:
    return runs_dir / config / f"seed{seed}"


def _reusable(report_path: Path, iters: int | None) -> bool:
    if not report_path.is_file():
        return False
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return iters is None or report.get("iterations") == iters


def run_one(config: str, seed: int, out: Path, args: argparse.Namespace) -> dict:
    """Train + evaluate + report one (config, seed) unless a matching report exists; the report with timing."""
    report_path = out / REPORT_JSON
    if not args.force and _reusable(report_path, args.iters):
        print(f"[toy_study] {config} seed {seed}: reusing {report_path}", flush=True)
        return json.loads(report_path.read_text(encoding="utf-8"))
    overrides = ["SEED", str(seed), "OUTPUT_DIR", str(out)]
    if args.iters is not None:
        overrides += ["SOLVER.MAX_ITER", str(args.iters)]
    train = [sys.executable, str(TRAIN_NET), "--config-file", str(CONFIG_DIR / f"{config}.yaml"),
             *overrides, *args.opts]
    report = [sys.executable, str(TOY_REPORT), str(out), "--num-visualizations", "0",
              "--crops-per-class", str(args.crops_per_class)]
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(out / "toy_study_run.log", "w", encoding="utf-8") as log:
        for command in (train, report):
            print(f"[toy_study] {config} seed {seed}: {shlex.join(command)}", flush=True)
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
            if done.returncode != 0:
                raise RuntimeError(f"{config} seed {seed} failed (exit {done.returncode}); see "
                                   f"{out / 'toy_study_run.log'}")
    result = json.loads(report_path.read_text(encoding="utf-8"))
    result["wall_s"] = time.perf_counter() - start
    report_path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"[toy_study] {config} seed {seed}: done in {result['wall_s']:.0f} s", flush=True)
    return result


def metric_values(report: Mapping) -> dict[str, float]:
    values = {}
    for key, (_, path) in METRICS.items():
        node = report
        for part in path:
            if part not in node:
                raise KeyError(f"toy report lacks {'/'.join(path)}; rerun gpa_toy/tools/toy_report.py on its run")
            node = node[part]
        values[key] = float(node)
    return values


# ---------------------------------------------------------------------------------------------- statistics
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for a single value)."""
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else float("nan")


def compare(a: Sequence[float], b: Sequence[float]) -> tuple[float, str]:
    """(mean(a) - mean(b), verdict): "higher" / "lower" when the difference exceeds the seed spread
    std(a) + std(b), else "tie" (always "tie" without a spread, i.e. with one seed)."""
    (mean_a, std_a), (mean_b, std_b) = mean_std(a), mean_std(b)
    diff = mean_a - mean_b
    spread = std_a + std_b
    if np.isnan(spread) or abs(diff) <= spread:
        return diff, "tie"
    return diff, "higher" if diff > 0 else "lower"


def _cell(values: Sequence[float]) -> str:
    mean, std = mean_std(values)
    return f"{mean:.1f}" if np.isnan(std) else f"{mean:.1f} ± {std:.1f}"


def summary_table(values: Mapping[str, Mapping[str, list[float]]]) -> str:
    header = "| config | " + " | ".join(METRICS[k][0] for k in TABLE) + " |"
    rule = "|:--|" + "--:|" * len(TABLE)
    rows = [f"| {LABELS.get(c, c)} | " + " | ".join(_cell(v[k]) for k in TABLE) + " |" for c, v in values.items()]
    return "\n".join([header, rule, *rows])


def comparison_lines(values: Mapping[str, Mapping[str, list[float]]], reference: str = "gpa") -> list[str]:
    if reference not in values:
        return [f"- ({reference} was not run: no comparison)"]
    lines = []
    name = LABELS.get(reference, reference)
    for other in [c for c in values if c != reference]:
        other_name = LABELS.get(other, other)
        for key in COMPARED:
            diff, verdict = compare(values[reference][key], values[other][key])
            text = {"tie": "tie", "higher": f"{name} higher", "lower": f"{other_name} higher"}[verdict]
            lines.append(f"- {METRICS[key][0]}: {name} - {other_name} = {diff:+.1f} -> {text}")
    return lines


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


# ---------------------------------------------------------------------------------------------- outputs
def _bars(ax, values: Mapping[str, Mapping[str, list[float]]], keys: Sequence[str]) -> np.ndarray:
    """Grouped bars (mean, std error bar, one dot per seed) of `keys` for every config; the group centres."""
    configs = list(values)
    width = 0.8 / len(configs)
    x = np.arange(len(keys))
    for i, config in enumerate(configs):
        stats = [mean_std(values[config][k]) for k in keys]
        offset = x - 0.4 + width * (i + 0.5)
        ax.bar(offset, [m for m, _ in stats], width, yerr=[0.0 if np.isnan(s) else s for _, s in stats], capsize=3,
               label=LABELS.get(config, config))
        for j, key in enumerate(keys):
            ax.plot([offset[j]] * len(values[config][key]), values[config][key], "k.", markersize=3, zorder=3)
    ax.set_xticks(x, [METRICS[k][0].replace(", after", "") for k in keys], fontsize=8)
    ax.set_ylim(0, 100)
    return x


def plot(values: Mapping[str, Mapping[str, list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (seg, crops) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    _bars(seg, values, PLOTTED_SEGMENTATION)
    seg.set_ylabel("score (%)")
    seg.set_title("segmentation on gpa_toy_val")
    x = _bars(crops, values, list(PLOTTED_CROPS))
    before = [np.mean([v for c in values for v in values[c][k]]) for k in PLOTTED_CROPS.values()]
    crops.hlines(before, x - 0.45, x + 0.45, colors="k", linestyles="--", zorder=4, label="pretrained CLIP (before)")
    crops.set_title("zero-shot crop accuracy after training")
    handles, labels = crops.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("Toy world: mean ± std over seeds (dots: single seeds)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_study(args: argparse.Namespace, reports: Mapping[str, Mapping[int, dict]], command: str) -> Path:
    values = {c: {k: [metric_values(r)[k] for r in runs.values()] for k in METRICS} for c, runs in reports.items()}
    args.docs_dir.mkdir(parents=True, exist_ok=True)
    plot(values, args.docs_dir / "study.png")
    iterations = sorted({r["iterations"] for runs in reports.values() for r in runs.values()})
    walls = [r["wall_s"] for runs in reports.values() for r in runs.values() if "wall_s" in r]
    seeds = sorted({s for runs in reports.values() for s in runs})
    lines = [
        "# Toy-world study: GPA vs frozen CLIP vs full fine-tuning",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {machine()}  ",
        f"Budget: {', '.join(map(str, iterations))} iterations per run (configs/toy/base.yaml), seeds {seeds}; "
        + (f"{np.mean(walls):.0f} s per run on average (train, evaluate, report)." if walls else ""),
        "",
        "Scores in %, mean ± sample std over seeds. Segmentation on gpa_toy_val (200 images, 52 seen and 16 unseen "
        "classes; mIoU over the classes present in the ground truth; hm = harmonic mean of seen and unseen). Crop "
        f"accuracy: 64-way zero-shot classification of {args.crops_per_class} held-out single-object crops per "
        "class by the model's image encoder against CLIP text embeddings of all 64 object names; \"before\" is "
        "the pretrained tiny CLIP (the same for every config).",
        "",
        summary_table(values),
        "",
        "![study](study.png)",
        "",
        "GPA against each baseline (difference of means; a difference counts only when it exceeds the seed spread, "
        "the sum of the two standard deviations; otherwise it is a tie):",
        "",
        *comparison_lines(values),
        "",
        "Per run:",
        "",
        "| config | seed | " + " | ".join(METRICS[k][0] for k in TABLE) + " |",
        "|:--|--:|" + "--:|" * len(TABLE),
        *[f"| {LABELS.get(c, c)} | {s} | " + " | ".join(f"{metric_values(r)[k]:.1f}" for k in TABLE) + " |"
          for c, runs in reports.items() for s, r in runs.items()],
        "",
    ]
    path = args.docs_dir / "study.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    raw = {c: {str(s): {"metrics": metric_values(r), "wall_s": r.get("wall_s")} for s, r in runs.items()}
           for c, runs in reports.items()}
    (args.docs_dir / "study.json").write_text(json.dumps({"command": command, "runs": raw}, indent=1),
                                              encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> Path:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    command = shlex.join(["python", "gpa_toy/tools/toy_study.py", *argv])
    reports: dict[str, dict[int, dict]] = {}
    for config in args.configs:
        for seed in args.seeds:
            reports.setdefault(config, {})[seed] = run_one(config, seed, run_dir(args.runs_dir, config, seed), args)
    path = write_study(args, reports, command)
    print(path.read_text(encoding="utf-8"))
    print(f"[toy_study] wrote {path}, {path.with_name('study.png')}, {path.with_name('study.json')}")
    return path


if __name__ == "__main__":
    main()
