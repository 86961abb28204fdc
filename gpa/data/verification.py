"""Check that a registered dataset's files exist and agree with each other and with its class list."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image
from tabulate import tabulate
from tqdm import tqdm

from .label_checks import LabelFileError, label_fix_hint, label_problems, read_image_size, read_label_file

__all__ = ["DatasetReport", "format_reports", "verify_dataset"]

MAX_LISTED = 5  # problems of one kind listed per dataset before summarising


@dataclass
class DatasetReport:
    name: str
    images: int = 0
    labels: int = 0
    num_classes: int = 0
    classes_seen: set[int] = field(default_factory=set)
    label_modes: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Problems:
    """Collects problems, listing the first few of each kind and counting the rest."""

    def __init__(self, report: DatasetReport) -> None:
        self.report = report
        self.counts: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= MAX_LISTED:
            self.report.problems.append(message)

    def close(self) -> None:
        for kind, n in self.counts.items():
            if n > MAX_LISTED:
                self.report.problems.append(f"... and {n - MAX_LISTED} more {kind} problems")


def _check_labels(path: Path, image_size: tuple[int, int] | None, num_classes: int, ignore: int,
                  report: DatasetReport, problems: _Problems, hint: str) -> None:
    labels, mode = read_label_file(path)
    report.label_modes.add(mode)
    found = label_problems(path, labels, mode, num_classes, ignore, image_size)
    for kind, message in found:
        problems.add(kind, message if kind == "size" else f"{message}; fix: {hint}")
    if not any(kind in ("bit-depth", "shape") for kind, _ in found):
        values = np.unique(labels)
        report.classes_seen.update(int(v) for v in values if 0 <= v < num_classes)


def _check_panoptic(record: dict, problems: _Problems) -> None:
    rgb = np.asarray(Image.open(record["pan_seg_file_name"]).convert("RGB"), dtype=np.int64)
    ids = set(np.unique(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]).tolist()) - {0}
    listed = {s["id"] for s in record["segments_info"]}
    if ids != listed:
        problems.add("segments", f"{record['pan_seg_file_name']}: segment ids in the PNG {sorted(ids - listed)[:5]} "
                                 f"are not in the JSON, JSON ids {sorted(listed - ids)[:5]} are not in the PNG")


def verify_dataset(name: str, max_files: int | None = None, show_progress: bool = True) -> DatasetReport:
    """Load `name`, then check every record's files (or the first `max_files`)."""
    if max_files is not None and (isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 1):
        raise ValueError(f"max_files must be a positive number of images (or None for all), got {max_files!r}")
    report = DatasetReport(name)
    try:
        records = DatasetCatalog.get(name)
        meta = MetadataCatalog.get(name)
        report.num_classes = len(meta.stuff_classes)
    except (FileNotFoundError, ValueError, KeyError) as error:
        report.problems.append(str(error).strip("'\""))
        return report
    ignore = meta.get("ignore_label", 255)
    hint = label_fix_hint(name)
    problems = _Problems(report)
    report.images = len(records)
    image_root = meta.get("image_root")
    if meta.get("panoptic_json") and image_root:
        on_disk = {p.name for p in Path(image_root).rglob("*") if p.suffix in (".jpg", ".png")}
        listed = {Path(r["file_name"]).name for r in records}
        if on_disk != listed:
            problems.add("count", f"{image_root}: {len(on_disk)} images on disk but {meta.panoptic_json} lists "
                                  f"{len(listed)} (e.g. unlisted {sorted(on_disk - listed)[:3]}, "
                                  f"missing {sorted(listed - on_disk)[:3]})")
    chosen = records if max_files is None else records[:max_files]
    for record in tqdm(chosen, desc=f"verify {name}", disable=not show_progress, unit="image"):
        if not Path(record["file_name"]).is_file():
            problems.add("missing", f"{record['file_name']}: image missing")
            continue
        try:
            size = read_image_size(record["file_name"])
        except LabelFileError as err:
            problems.add("unreadable", str(err))
            continue
        if "sem_seg_file_name" in record:
            path = Path(record["sem_seg_file_name"])
            if not path.is_file():
                problems.add("missing", f"{path}: label file missing; fix: {hint}")
            else:
                report.labels += 1
                try:
                    _check_labels(path, size, report.num_classes, ignore, report, problems, hint)
                except LabelFileError as err:
                    problems.add("unreadable", f"{err}; fix: {hint}")
        if "pan_seg_file_name" in record:
            if not Path(record["pan_seg_file_name"]).is_file():
                problems.add("missing", f"{record['pan_seg_file_name']}: panoptic PNG missing")
            else:
                _check_panoptic(record, problems)
    json_file = meta.get("json_file")
    if json_file and not Path(json_file).is_file():
        problems.add("missing", f"{json_file}: instance annotations (for AP) missing")
    problems.close()
    return report


def format_reports(reports: Sequence[DatasetReport]) -> str:
    rows = [
        [r.name, r.images, r.labels, r.num_classes, len(r.classes_seen), ",".join(sorted(r.label_modes)) or "-",
         "OK" if r.ok else f"FAILED ({len(r.problems)})"]
        for r in reports
    ]
    table = tabulate(rows, headers=["dataset", "images", "labels", "classes", "classes seen", "label mode", "status"],
                     tablefmt="pipe")
    details = [f"\n{r.name}:\n" + "\n".join(f"  - {p}" for p in r.problems) for r in reports if not r.ok]
    return table + "".join(details)
