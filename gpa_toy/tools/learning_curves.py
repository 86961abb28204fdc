#!/usr/bin/env python
"""Learning curves of training runs from their OUTPUT_DIR/metrics.json (detectron2's JSONWriter): one plot of
the total loss and the learning rate per run, and a table of the loss terms every --every iterations.

python gpa_toy/tools/learning_curves.py RUN_DIR[=LABEL] ... --output docs/toy/learning_curves.png
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

LOSSES = ("total_loss", "loss_ce", "loss_mask", "loss_dice", "loss_cfa")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="OUTPUT_DIR of a run, optionally =LABEL (default: the folder name)")
    parser.add_argument("--output", type=Path, required=True, help="the plot (.png)")
    parser.add_argument("--every", type=int, default=200, help="iterations between table rows")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error(f"--every must be at least 1, got {args.every}")
    return args


def latest_run(rows: Sequence[dict]) -> list[dict]:
    """Rows in file order -> the curve of the last run written to the file.

    detectron2's JSONWriter appends, so a run trained again in the same OUTPUT_DIR follows the earlier one in
    metrics.json, and a resumed run repeats the iterations after its checkpoint. A row at iteration i replaces
    every earlier row at i or later: a run from scratch replaces all, a resumed one the part it repeats.
    """
    kept: list[dict] = []
    for row in rows:
        while kept and kept[-1]["iteration"] >= row["iteration"]:
            kept.pop()
        kept.append(row)
    return kept


def read_metrics(run_dir: Path) -> list[dict]:
    """The training rows (those with a total_loss) of the last run in run_dir/metrics.json, in iteration order."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; give the OUTPUT_DIR of a training run")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not JSON ({err})") from None
        if "total_loss" in row:
            rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no training rows (no 'total_loss'); was the run trained?")
    return latest_run(rows)


def table(curves: dict[str, list[dict]], every: int) -> str:
    """Markdown rows: run, iteration and each loss term at the logged iterations closest to every multiple."""
    lines = ["| run | iteration | " + " | ".join(LOSSES) + " |", "|:--|--:|" + "--:|" * len(LOSSES)]
    for label, rows in curves.items():
        last = rows[-1]["iteration"]
        for target in [*range(every - 1, last, every), last]:
            row = min(rows, key=lambda r: abs(r["iteration"] - target))
            values = " | ".join(f"{row[k]:.2f}" if k in row else "-" for k in LOSSES)
            lines.append(f"| {label} | {row['iteration'] + 1} | {values} |")
    return "\n".join(lines)


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss, lr) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    for label, rows in curves.items():
        iterations = [r["iteration"] + 1 for r in rows]
        loss.plot(iterations, [r["total_loss"] for r in rows], label=label)
        lr.plot(iterations, [r.get("lr", float("nan")) for r in rows], label=label)
    loss.set_xlabel("iteration")
    loss.set_ylabel("total loss (median of the logging window)")
    loss.set_yscale("log")
    loss.legend(fontsize=8)
    lr.set_xlabel("iteration")
    lr.set_ylabel("learning rate")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> str:
    args = parse_args(argv)
    curves: dict[str, list[dict]] = {}
    for spec in args.runs:
        folder, _, label = spec.partition("=")
        curves[label or Path(folder).name] = read_metrics(Path(folder))
    plot(curves, args.output)
    text = table(curves, args.every)
    print(text)
    print(f"\nplot: {args.output}")
    return text


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
