"""One table of every evaluated benchmark, with the mIoU convention stated beside it."""
from __future__ import annotations

from collections.abc import Mapping

from tabulate import tabulate

from .class_split import format_class_split_table

__all__ = ["COLUMNS", "MIOU_CONVENTION", "format_results_table"]

# (column title, task key of the evaluator results, metric)
COLUMNS = (
    ("PQ", "panoptic_seg", "PQ"),
    ("PQ_th", "panoptic_seg", "PQ_th"),
    ("PQ_st", "panoptic_seg", "PQ_st"),
    ("mIoU*", "sem_seg", "mIoU"),
    ("AP", "segm", "AP"),
)

MIOU_CONVENTION = (
    "* mIoU: mean IoU over the classes present in the ground truth of the evaluated images "
    "(detectron2 SemSegEvaluator); classes that are only predicted are not counted."
)


def format_results_table(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """Rows: datasets; columns: PQ, PQ_th, PQ_st, mIoU, AP ("-" where a task was not evaluated).

    Datasets with a seen/unseen class split get a second table of seen, unseen and harmonic-mean scores.
    """
    rows = []
    for dataset, tasks in results.items():
        row = [dataset]
        for _, task, metric in COLUMNS:
            value = tasks.get(task, {}).get(metric)
            row.append("-" if value is None else f"{value:.1f}")
        rows.append(row)
    table = tabulate(rows, headers=["dataset"] + [c[0] for c in COLUMNS], tablefmt="pipe", stralign="right")
    split = format_class_split_table(results)
    if split is not None:
        table = f"{table}\n\nSeen / unseen classes (hm: harmonic mean):\n{split}"
    return f"{table}\n{MIOU_CONVENTION}"
