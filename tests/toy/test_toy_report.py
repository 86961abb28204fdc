"""gpa_toy/tools/toy_report.py: the one table from evaluation results and crop accuracies, and its errors."""
from __future__ import annotations

import math
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report():
    """The script's functions (run by path: scripts are not modules of the package)."""
    return runpy.run_path(str(REPO / "gpa_toy" / "tools" / "toy_report.py"), run_name="toy_report")


RESULTS = {
    "plain": {"panoptic_seg": {"PQ": 10.0}},
    "gpa_toy_val": {
        "panoptic_seg": {"PQ": 50.0, "PQ_seen": 60.0, "PQ_unseen": 30.0, "PQ_hm": 40.0},
        "sem_seg": {"mIoU": 55.0, "mIoU_seen": 62.0, "mIoU_unseen": 35.0, "mIoU_hm": 44.7},
    },
}


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("|")[1:-1]]


def test_table_rows_and_change_of_crop_accuracy(report):
    segmentation = report["segmentation_rows"](RESULTS["gpa_toy_val"])
    crops = {"before": report["crop_row"]({"all": 70.0, "seen": 72.0, "unseen": 64.0, "colour": 0, "shape": 0}),
             "after": report["crop_row"]({"all": 60.0, "seen": 66.0, "unseen": 42.0, "colour": 0, "shape": 0})}
    assert crops["before"]["hm"] == pytest.approx(2 * 72 * 64 / 136)
    lines = report["format_report_table"]("gpa_toy_val", segmentation, crops).splitlines()
    assert _cells(lines[0]) == ["gpa_toy_val", "seen", "unseen", "harmonic mean", "all"]
    assert _cells(lines[2]) == ["PQ", "60.0", "30.0", "40.0", "50.0"]
    assert _cells(lines[3]) == ["mIoU", "62.0", "35.0", "44.7", "55.0"]
    assert _cells(lines[4])[:3] == ["crop zero-shot acc., pretrained CLIP", "72.0", "64.0"]
    assert _cells(lines[5])[:3] == ["crop zero-shot acc., after training", "66.0", "42.0"]
    change = _cells(lines[6])
    assert change[0] == "change of crop acc. (after - before)" and change[1:3] == ["-6.0", "-22.0"]
    assert change[4] == "-10.0"


def test_missing_task_and_nan_show_as_dashes(report):
    segmentation = report["segmentation_rows"]({"sem_seg": RESULTS["gpa_toy_val"]["sem_seg"]})
    assert list(segmentation) == ["mIoU"]
    segmentation["mIoU"]["unseen"] = math.nan
    lines = report["format_report_table"]("d", segmentation, {}).splitlines()
    assert len(lines) == 3 and _cells(lines[2]) == ["mIoU", "62.0", "-", "44.7", "55.0"]


def test_dataset_choice(report):
    choose = report["choose_dataset"]
    assert choose(RESULTS, None) == "gpa_toy_val"
    assert choose(RESULTS, "gpa_toy_val") == "gpa_toy_val"
    with pytest.raises(ValueError, match=r"--dataset plain: no seen/unseen results.*\['gpa_toy_val'\]"):
        choose(RESULTS, "plain")
    with pytest.raises(ValueError, match="whose metadata lists unseen_classes"):
        choose({"plain": RESULTS["plain"]}, None)


def test_a_directory_without_a_run_is_named(report, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.yaml \(the run's config\) does not exist"):
        report["main"]([str(tmp_path)])


def test_display_metadata_names_every_class_and_marks_unseen(report):
    from detectron2.data import MetadataCatalog

    import gpa_toy

    gpa_toy.register()  # registers gpa_toy_val without generating it

    metadata = report["display_metadata"]("gpa_toy_val")
    source = MetadataCatalog.get("gpa_toy_val")
    assert len(metadata.thing_classes) == len(metadata.stuff_classes) == 68
    marked = [i for i, n in enumerate(metadata.stuff_classes) if n.endswith(report["UNSEEN_MARK"])]
    assert marked == sorted(source.unseen_classes)
    assert metadata.thing_colors == source.stuff_colors
