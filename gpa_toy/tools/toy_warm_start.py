#!/usr/bin/env python
"""Warm start on the toy world: GPA started from a trained FC-CLIP model against GPA from scratch, with the same
total number of iterations, several seeds.

For each seed: configs/toy/fcclip.yaml (frozen tiny CLIP, no adapters, mask pooling: "the released FC-CLIP")
trains for the toy budget; configs/toy/gpa_from_fcclip.yaml starts from its model_final.pth (adapters as the
identity, the CFA head as mask pooling) for --warm-iters more; configs/toy/gpa.yaml trains from scratch for the
sum of both. Each run is reported by gpa_toy/tools/toy_report.py (reused when its report exists), and the comparison is
written to docs/toy/warm_start.{md,json}:

python gpa_toy/tools/toy_warm_start.py                          # seeds 0 1 2, 1000 + 200 against 1200 iterations
python gpa_toy/tools/toy_warm_start.py --seeds 0 --fcclip-iters 20 --warm-iters 4 --runs-dir /tmp/w --docs-dir /tmp/w
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toy_study  # noqa: E402  (the run, statistics and table helpers of the toy study)

REPO = toy_study.REPO
LABELS = {"fcclip": "FC-CLIP (released model)", "gpa_from_fcclip": "GPA from FC-CLIP",
          "gpa_scratch": "GPA from scratch"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--fcclip-iters", type=int, default=1000, help="SOLVER.MAX_ITER of the FC-CLIP model")
    parser.add_argument("--warm-iters", type=int, default=200, help="SOLVER.MAX_ITER of the warm start")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "output" / "toy_warm_start")
    parser.add_argument("--docs-dir", type=Path, default=REPO / "docs" / "toy")
    parser.add_argument("--crops-per-class", type=int, default=16)
    parser.add_argument("--force", action="store_true", help="rerun runs that already have a report")
    args = parser.parse_args(argv)
    for name in ("fcclip_iters", "warm_iters", "crops_per_class"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    return args


def _run(config: str, name: str, seed: int, iters: int, opts: list[str], args: argparse.Namespace) -> dict:
    run_args = argparse.Namespace(iters=iters, opts=opts, crops_per_class=args.crops_per_class, force=args.force)
    return toy_study.run_one(config, seed, args.runs_dir / name / f"seed{seed}", run_args)


def main(argv: Sequence[str] | None = None) -> Path:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    reports: dict[str, dict[int, dict]] = {name: {} for name in LABELS}
    for seed in args.seeds:
        reports["fcclip"][seed] = _run("fcclip", "fcclip", seed, args.fcclip_iters, [], args)
        released = args.runs_dir / "fcclip" / f"seed{seed}" / "model_final.pth"
        reports["gpa_from_fcclip"][seed] = _run("gpa_from_fcclip", "gpa_from_fcclip", seed, args.warm_iters,
                                                ["MODEL.WEIGHTS", str(released)], args)
        reports["gpa_scratch"][seed] = _run("gpa", "gpa_scratch", seed, args.fcclip_iters + args.warm_iters, [], args)

    values = {name: {k: [toy_study.metric_values(r)[k] for r in runs.values()] for k in toy_study.METRICS}
              for name, runs in reports.items()}
    toy_study.LABELS.update(LABELS)
    command = shlex.join(["python", "gpa_toy/tools/toy_warm_start.py", *argv])
    lines = [
        "# Toy world: GPA warm-started from FC-CLIP against GPA from scratch",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {toy_study.machine()}  ",
        f"Budgets: FC-CLIP {args.fcclip_iters} iterations; GPA from FC-CLIP {args.fcclip_iters} + "
        f"{args.warm_iters}; GPA from scratch {args.fcclip_iters + args.warm_iters}. Seeds {args.seeds}.",
        "",
        "Scores in %, mean ± sample std over seeds, measured as in [study.md](study.md).",
        "",
        toy_study.summary_table(values),
        "",
        "GPA from FC-CLIP against the others (a difference counts only when it exceeds the sum of the two standard "
        "deviations; otherwise it is a tie)"
        + (": with one seed there is no spread, so every difference reads as a tie and none is a finding; run "
           "more seeds (finished runs are reused)." if len(args.seeds) < 2 else ":"),
        "",
        *toy_study.comparison_lines(values, reference="gpa_from_fcclip"),
        "",
    ]
    args.docs_dir.mkdir(parents=True, exist_ok=True)
    path = args.docs_dir / "warm_start.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    raw = {name: {str(s): toy_study.metric_values(r) for s, r in runs.items()} for name, runs in reports.items()}
    (args.docs_dir / "warm_start.json").write_text(json.dumps({"command": command, "runs": raw}, indent=1),
                                                   encoding="utf-8")
    print(path.read_text(encoding="utf-8"))
    return path


if __name__ == "__main__":
    main()
