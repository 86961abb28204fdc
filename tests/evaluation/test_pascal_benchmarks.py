"""Pascal VOC 20/21 and Pascal Context 59/459: release layouts -> prepare -> registration -> mIoU."""
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import SemSegEvaluator
from PIL import Image
from scipy.io import loadmat

from gpa.data.preparation import pascal as prepare
from tests.synthetic import write_pascal_context_raw, write_pascal_voc_raw
from tests.synthetic.pascal import PC59_NAMES
from tests.synthetic.predictions import evaluate_outputs, miou_if_all_predicted_as, read_labels, semantic_outputs

VOC20, VOC21 = "gpa_pascal_voc_20_sem_seg_val", "gpa_pascal_voc_21_sem_seg_val"
PC59, PC459 = "gpa_pascal_ctx_59_sem_seg_val", "gpa_pascal_ctx_459_sem_seg_val"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2")
    write_pascal_voc_raw(root, num_images=4)
    write_pascal_context_raw(root, num_images=4)
    prepare.main_voc(["--root", str(root)])
    prepare.main_context(["--root", str(root)])
    return root


def test_voc_20_ignores_background_and_shifts(root, builtin_at):
    builtin_at(root, VOC20, VOC21)
    for record in DatasetCatalog.get(VOC21):
        raw = np.asarray(Image.open(root / "VOCdevkit/VOC2012/SegmentationClass" / f"{record['image_id']}.png"))
        v21 = read_labels(record["sem_seg_file_name"])
        v20 = read_labels(record["sem_seg_file_name"].replace("pascal21", "pascal20"))
        np.testing.assert_array_equal(v21, raw)
        np.testing.assert_array_equal(v20, np.where((raw == 0) | (raw == 255), 255, raw.astype(np.int64) - 1))
    assert MetadataCatalog.get(VOC21).stuff_classes[0] == "background"
    assert MetadataCatalog.get(VOC20).stuff_classes[14] == "person" == MetadataCatalog.get(VOC21).stuff_classes[15]


@pytest.mark.parametrize("name,num", [(VOC20, 20), (VOC21, 21), (PC59, 59), (PC459, 459)])
def test_perfect_and_single_class_predictions(root, builtin_at, name, num):
    builtin_at(root, name)
    records = DatasetCatalog.get(name)
    meta = MetadataCatalog.get(name)
    assert len(meta.stuff_classes) == num
    perfect = evaluate_outputs(SemSegEvaluator(name), zip(records, semantic_outputs(records, num)))
    assert perfect["sem_seg"]["mIoU"] == pytest.approx(100.0)
    labels = [read_labels(r["sem_seg_file_name"]) for r in records]
    cls = int(np.bincount(np.concatenate([lab[lab != meta.ignore_label] for lab in labels])).argmax())
    single = evaluate_outputs(SemSegEvaluator(name), zip(records, semantic_outputs(records, num, as_class=cls)))
    assert single["sem_seg"]["mIoU"] == pytest.approx(miou_if_all_predicted_as(labels, cls, meta.ignore_label))


def test_context_labels_match_the_release_files(root, builtin_at):
    builtin_at(root, PC59, PC459)
    names_459 = MetadataCatalog.get(PC459).stuff_classes
    names_59 = MetadataCatalog.get(PC59).vocabulary
    for record in DatasetCatalog.get(PC459):
        image_id = record["image_id"]
        full = loadmat(root / "pascal_context/trainval" / f"{image_id}.mat")["LabelMap"].astype(np.int64)
        with Image.open(record["sem_seg_file_name"]) as image:
            assert image.mode == "I;16"
        l459 = read_labels(record["sem_seg_file_name"])
        np.testing.assert_array_equal(l459, np.where(full == 0, 65535, full - 1))  # labels.txt id k -> k - 1
        l59 = read_labels(str(root / "pascal_ctx_d2/annotations_ctx59/validation" / f"{image_id}.png"))
        for v in np.unique(l459[l459 != 65535]):
            name = names_459[v]
            on59 = np.unique(l59[l459 == v])
            if name in PC59_NAMES:  # same class through both label files
                assert on59.tolist() == [PC59_NAMES.index(name)]
                assert name.replace(" ", "") in {s.replace(" ", "") for s in names_59.classes[on59[0]]}
            else:
                assert on59.tolist() == [255]


def test_59_label_names_are_checked_against_the_release(tmp_path):
    paths = write_pascal_context_raw(tmp_path, num_images=1)
    (paths["context"] / "59_labels.txt").write_text("\n".join(f"{k + 2}: {n}" for k, n in enumerate(PC59_NAMES)))
    with pytest.raises(ValueError, match="59_labels.txt.*disagree"):
        prepare.main_context(["--root", str(tmp_path)])


def test_rerun_skips(root):
    again = prepare.main_voc(["--root", str(root)])
    assert again.written == {} and again.skipped == {"images": 4, "labels": 8}
