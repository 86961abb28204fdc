"""ADE20K-Full (A-847): 2021 release layout -> prepare (16-bit labels, resize) -> registration -> mIoU."""
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import SemSegEvaluator
from PIL import Image

from gpa.data.preparation import ade20k_full as prepare
from tests.synthetic import write_ade20k_full_raw
from tests.synthetic.predictions import evaluate_outputs, read_labels, semantic_output, semantic_outputs

NAME = "gpa_ade20k_847_sem_seg_val"
NUM = 300  # classes of the generated benchmark list (more than 256, so labels need 16 bits)


@pytest.fixture(scope="module")
def full_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2")
    paths = write_ade20k_full_raw(root, num_classes=NUM)
    prepare.main(["--root", str(root), "--class-list", str(paths["class_list"])])
    return root


def test_labels_are_16_bit_and_map_release_ids_to_list_order(full_root):
    full = full_root / "ADE20K_2021_17_01"
    label_path = full / "annotations_detectron2/training/ADE_train_00000001.tif"
    with Image.open(label_path) as image:
        assert image.mode == "I;16"
        labels = np.array(image)
    seg = np.asarray(Image.open(full / "images/ADE/training/urban/street/ADE_train_00000001_seg.png"))
    ade_class = seg[..., 0].astype(np.int64) // 10 * 256 + seg[..., 1]
    # the generated list puts ade id 1000 + 3k at label k; unlabeled (0) and ade id 7 (not listed) -> ignore
    expected = np.where(np.isin(ade_class, [0, 7]), 65535, (ade_class - 1000) // 3)
    np.testing.assert_array_equal(labels, expected)


def test_large_images_are_resized_to_short_side_512(full_root):
    full = full_root / "ADE20K_2021_17_01"
    image = Image.open(full / "images_detectron2/validation/ADE_val_00000003.jpg")
    labels = Image.open(full / "annotations_detectron2/validation/ADE_val_00000003.tif")
    assert image.size == labels.size == (532, 512)  # 520x540 (h x w) -> short side 512


def test_registration_names_and_perfect_and_swapped_miou(full_root, builtin_at):
    builtin_at(full_root, NAME)
    meta = MetadataCatalog.get(NAME)
    assert meta.ignore_label == 65535 and len(meta.stuff_classes) == NUM
    assert meta.vocabulary.classes[260] == ("class 260", "synonym 260")
    records = DatasetCatalog.get(NAME)
    perfect = evaluate_outputs(SemSegEvaluator(NAME), zip(records, semantic_outputs(records, NUM)))
    assert perfect["sem_seg"]["mIoU"] == pytest.approx(100.0)

    # predict class 299 wherever the ground truth says 260: IoU(260) = 0, IoU(299) = n299 / (n299 + n260)
    labels = [read_labels(r["sem_seg_file_name"]) for r in records]
    outputs = [{"sem_seg": semantic_output(np.where(lab == 260, 299, lab), NUM)} for lab in labels]
    swapped = evaluate_outputs(SemSegEvaluator(NAME), zip(records, outputs))
    counts = {c: sum(int((lab == c).sum()) for lab in labels) for c in (260, 299)}
    present = {int(c) for lab in labels for c in np.unique(lab) if c != 65535}
    assert {260, 299} <= present
    expected = 100 * (len(present) - 2 + counts[299] / (counts[299] + counts[260])) / len(present)
    assert swapped["sem_seg"]["mIoU"] == pytest.approx(expected)


def test_values_above_255_survive(full_root):
    labels = [read_labels(p) for p in sorted((full_root / "ADE20K_2021_17_01/annotations_detectron2").rglob("*.tif"))]
    assert any(((lab > 255) & (lab != 65535)).any() for lab in labels)


def test_rerun_skips_and_missing_class_list_is_explained(full_root, tmp_path):
    lst = full_root / "a847_class_list.txt"
    again = prepare.main(["--root", str(full_root), "--class-list", str(lst)])
    assert again.written == {} and again.skipped == {"images": 3, "labels": 3}
    with pytest.raises(FileNotFoundError, match="class-list"):
        prepare.main(["--root", str(full_root), "--class-list", str(tmp_path / "none.txt")])
