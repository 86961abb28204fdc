"""datasets/verify.py: good data passes; off-by-one ids, missing folders and 8-bit files are named with the fix."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gpa.data.datasets import datasets_root, register_builtin_datasets
from gpa.data.preparation import ade20k, pascal
from gpa.data.verification import format_reports, verify_dataset
from tests.synthetic import write_ade20k_raw, write_pascal_context_raw

REPO = Path(__file__).resolve().parents[2]
ADE, PC459 = "gpa_ade20k_150_sem_seg_val", "gpa_pascal_ctx_459_sem_seg_val"


@pytest.fixture
def root(tmp_path):
    write_ade20k_raw(tmp_path, num_images=2, instances=False)
    ade20k.main_semantic(["--root", str(tmp_path), "--splits", "val"])
    write_pascal_context_raw(tmp_path, num_images=2)
    pascal.main_context(["--root", str(tmp_path), "--splits", "val"])
    register_builtin_datasets(tmp_path, names=[ADE, PC459], replace=True)
    yield tmp_path
    register_builtin_datasets(datasets_root(), names=[ADE, PC459], replace=True)


def test_prepared_data_passes(root):
    reports = [verify_dataset(ADE, show_progress=False), verify_dataset(PC459, show_progress=False)]
    assert all(r.ok for r in reports), format_reports(reports)
    ade, pc = reports
    assert (ade.images, ade.labels, ade.num_classes) == (2, 2, 150) and ade.label_modes == {"L"}
    assert pc.label_modes == {"I;16"} and pc.num_classes == 459 and 399 in pc.classes_seen  # labels.txt id 400
    table = format_reports(reports)
    assert "| gpa_ade20k_150_sem_seg_val" in table and "OK" in table


def test_unshifted_labels_are_reported_as_off_by_one(root):
    ade = root / "ADEChallengeData2016"
    raw = ade / "annotations/validation/ADE_val_00000001.png"
    labels = np.asarray(Image.open(raw)).copy()
    labels[0, 0] = 150  # the release's last class, which only 1-based labels contain
    Image.fromarray(labels).save(ade / "annotations_detectron2/validation" / raw.name)
    report = verify_dataset(ADE, show_progress=False)
    assert not report.ok
    message = report.problems[0]
    assert "ADE_val_00000001.png" in message and "150" in message and "1-based" in message
    assert "prepare_ade20k_semantic.py" in message


def test_eight_bit_file_where_sixteen_bit_is_needed(root):
    tif = root / "pascal_ctx_d2/annotations_ctx459/validation/2008_000000.tif"
    Image.fromarray(np.asarray(Image.open(tif)).astype(np.uint8)).save(tif)  # wraps ids > 255
    report = verify_dataset(PC459, show_progress=False)
    assert not report.ok
    assert "2008_000000.tif" in report.problems[0] and "16-bit" in report.problems[0]
    assert "prepare_pascal_context.py" in report.problems[0]


def test_missing_folder_names_path_and_script(root):
    shutil.rmtree(root / "ADEChallengeData2016/annotations_detectron2")
    report = verify_dataset(ADE, show_progress=False)
    assert not report.ok
    assert "annotations_detectron2/validation" in report.problems[0]
    assert "prepare_ade20k_semantic.py" in report.problems[0]


def test_cli_exit_status_and_table(root):
    (root / "ADEChallengeData2016/annotations_detectron2/validation/ADE_val_00000002.png").unlink()
    env = dict(os.environ, DETECTRON2_DATASETS=str(root))
    run = subprocess.run([sys.executable, str(REPO / "datasets/verify.py"), ADE, PC459],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "FAILED" in run.stdout and "OK" in run.stdout
    assert "ADE_val_00000002" in run.stdout
