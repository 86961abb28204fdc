"""Evaluation and training refuse the label files datasets/verify.py refuses, naming the file and the fix.

Without the checks, perfect predictions scored mIoU 3.1 on 1-based ADE20K labels, 83.3 with one out-of-range
value and 0.0 on PC-459 labels saved 8-bit, all without a word; colour PNGs crashed inside numpy.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation.sem_seg_evaluation import load_image_into_numpy_array
from PIL import Image

from gpa.data.datasets import datasets_root, register_builtin_datasets
from gpa.data.label_checks import LabelFileError, checked_label_reader, label_problems, read_image_size
from gpa.data.mappers import SemanticDatasetMapper
from gpa.data.preparation import ade20k, pascal
from gpa.data.verification import verify_dataset
from gpa.evaluation import build_evaluator
from tests.synthetic import write_ade20k_raw, write_pascal_context_raw
from tests.synthetic.predictions import evaluate_outputs, semantic_outputs

ADE, PC459 = "gpa_ade20k_150_sem_seg_val", "gpa_pascal_ctx_459_sem_seg_val"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    write_ade20k_raw(root, num_images=2, instances=False)
    ade20k.main_semantic(["--root", str(root), "--splits", "val"])
    write_pascal_context_raw(root, num_images=2)
    pascal.main_context(["--root", str(root), "--splits", "val"])
    return root


@pytest.fixture
def datasets(root):
    register_builtin_datasets(root, names=[ADE, PC459], replace=True)
    yield root
    register_builtin_datasets(datasets_root(), names=[ADE, PC459], replace=True)


def _one_based(labels):
    shifted = np.where(labels == 255, 255, labels.astype(np.int64) + 1)
    shifted[0, 0] = 150  # the last class, which only unshifted labels reach
    return Image.fromarray(shifted.astype(np.uint8))


def _out_of_range(labels):
    labels = labels.copy()
    labels[0, 0] = 200
    return Image.fromarray(labels)


def _rgb(labels):
    return Image.fromarray(np.repeat(labels[:, :, None], 3, axis=2))


def _cropped(labels):
    return Image.fromarray(labels[:-2])


def _eight_bit(labels):
    return Image.fromarray(labels.astype(np.uint8))


# (id, dataset, rewrite of the first label file, what the message must say besides the file and the fix)
CORRUPTIONS = [
    ("ade-1-based", ADE, _one_based, r"label values \[150\] are outside 0..149 .*look 1-based"),
    ("ade-out-of-range", ADE, _out_of_range, r"label values \[200\] are outside 0..149"),
    ("ade-rgb", ADE, _rgb, r"labels must be single-channel, got shape \(\d+, \d+, 3\) \(an RGB"),
    ("ade-size", ADE, _cropped, r"labels are \d+x\d+ but the image is"),
    ("pc459-8-bit", PC459, _eight_bit, r"8-bit labels \(L\) but this dataset needs 16-bit files"),
]
FIXES = {ADE: "prepare_ade20k_semantic.py", PC459: "prepare_pascal_context.py"}


@pytest.fixture
def corrupted(datasets, request):
    """Rewrite the first label file of a dataset; put the original back after the test."""
    _, name, rewrite, _ = request.param
    path = DatasetCatalog.get(name)[0]["sem_seg_file_name"]
    original = open(path, "rb").read()
    with Image.open(path) as image:
        labels = np.asarray(image)
    rewrite(labels).save(path, format=Image.open(path).format)
    yield request.param, path
    with open(path, "wb") as f:
        f.write(original)


@pytest.mark.parametrize("corrupted", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS], indirect=True)
def test_evaluation_refuses_what_verify_refuses(corrupted, eval_cfg):
    (_, name, _, pattern), path = corrupted
    records = DatasetCatalog.get(name)
    num_classes = len(MetadataCatalog.get(name).stuff_classes)
    assert not verify_dataset(name, show_progress=False).ok  # verify.py refuses it ...
    evaluator = build_evaluator(eval_cfg, name)
    evaluator.reset()
    evaluator.process(records[1:], semantic_outputs(records[1:], num_classes))  # good files are scored
    prediction = {"sem_seg": torch.zeros(num_classes, *read_image_size(records[0]["file_name"]))}
    with pytest.raises(LabelFileError, match=pattern) as info:  # ... and so does the evaluation
        evaluator.process(records[:1], [prediction])
    message = str(info.value)
    assert path in message and FIXES[name] in message and f"datasets/verify.py {name}" in message


def test_good_labels_still_score_100(datasets, eval_cfg):
    for name in (ADE, PC459):
        records = DatasetCatalog.get(name)
        outputs = semantic_outputs(records, len(MetadataCatalog.get(name).stuff_classes))
        results = evaluate_outputs(build_evaluator(eval_cfg, name), zip(records, outputs))
        assert results["sem_seg"]["mIoU"] == pytest.approx(100.0)


def test_unreadable_label_file_is_named(datasets, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(LabelFileError, match=f"cannot read label file {path}"):
        checked_label_reader(ADE)(str(path))
    with pytest.raises(FileNotFoundError, match=f"label file {tmp_path / 'none.png'} does not exist"):
        checked_label_reader(ADE)(str(tmp_path / "none.png"))


@pytest.mark.parametrize("corrupted", CORRUPTIONS[:4], ids=[c[0] for c in CORRUPTIONS[:4]], indirect=True)
def test_training_refuses_bad_labels(corrupted, datasets):
    (_, name, _, pattern), path = corrupted
    from detectron2.config import get_cfg

    from gpa.config import add_gpa_config

    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.DATASETS.TRAIN = (name,)
    cfg.INPUT.IMAGE_SIZE = 32
    mapper = SemanticDatasetMapper(cfg, is_train=True)
    record = DatasetCatalog.get(name)[0]
    with pytest.raises(LabelFileError, match=pattern) as info:
        mapper(record)
    assert path in str(info.value) and FIXES[name] in str(info.value)


def test_label_problems_table():
    """The rule itself, on small arrays: ignore is allowed, values at or above the class count are not."""
    ok = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    assert label_problems("x.png", ok, "L", 3, 255) == []
    assert label_problems("x.png", ok, "L", 3, 255, image_size=(2, 2)) == []
    [(kind, message)] = label_problems("x.png", np.array([[3, 0]], dtype=np.uint8), "L", 3, 255)
    assert kind == "range" and "look 1-based" in message
    sixteen = np.array([[0, 458], [65535, 255]], dtype=np.uint16)
    assert label_problems("x.png", sixteen, "I;16", 459, 65535) == []  # 255 is a class, 65535 ignored
    [(kind, message)] = label_problems("x.png", sixteen + 1, "I;16", 459, 65535)
    assert kind == "range" and "label values [459]" in message and "look 1-based" in message
    [(kind, _)] = label_problems("x.png", ok, "L", 459, 65535)
    assert kind == "bit-depth"
    [(kind, _)] = label_problems("x.png", ok, "L", 3, 255, image_size=(3, 2))
    assert kind == "size"


def test_the_check_costs_little(datasets, tmp_path):
    """Reading with the checks stays within a small factor of detectron2's plain read (a 512x683 label)."""
    path = tmp_path / "big.png"
    labels = np.random.default_rng(0).integers(0, 150, size=(512, 683)).astype(np.uint8)
    Image.fromarray(labels).save(path)
    reader = checked_label_reader(ADE)
    np.testing.assert_array_equal(reader(str(path)), load_image_into_numpy_array(str(path), dtype=int))

    def best_of(fn, repeats=5):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(str(path), dtype=int)
            times.append(time.perf_counter() - start)
        return min(times)

    plain, checked = best_of(load_image_into_numpy_array), best_of(reader)
    assert checked < 3 * plain + 0.005, (plain, checked)
