"""A catalogue of bad and malicious inputs through every entry point: build_config, tools/train_net.py,
tools/demo.py, the Predictor, datasets/verify.py and the file readers. Each must fail with an error naming the
input (file, key or option); a malicious config must never run its code.

Every case fails before a model is trained or an image predicted, so the whole catalogue runs in seconds.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gpa.config_validation as config_validation
from gpa.config_loading import ConfigError

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny" / "gpa_tiny.yaml"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_net():
    return _module(REPO / "tools" / "train_net.py", "gpa_train_net_under_test")


@pytest.fixture(scope="module")
def demo():
    return _module(REPO / "tools" / "demo.py", "gpa_demo_under_test")


@pytest.fixture(scope="module")
def verify():
    return _module(REPO / "datasets" / "verify.py", "gpa_verify_under_test")


# ------------------------------------------------------------------ config files through every entry point
# (id, config text; "{tiny}" is the tiny config and "{marker}" a file the attack would create, what the error says)
MALICIOUS = [
    ("apply-open", "_BASE_: {tiny}\nSEED: !!python/object/apply:builtins.open ['{marker}', 'w']\n",
     "line 2, .*python/object/apply:builtins.open"),
    ("apply-in-base", "_BASE_: evil_base.yaml\n", "evil_base.yaml, line 1, .*python/object/apply"),
    ("new-object", "_BASE_: {tiny}\nSEED: !!python/object/new:builtins.open ['{marker}', 'w']\n",
     "python/object/new:builtins.open"),
    ("apply-as-key", "_BASE_: {tiny}\n? !!python/object/apply:builtins.open ['{marker}', 'w']\n: 1\n",
     "python/object/apply"),
    ("tag-directive", "%TAG !p! tag:yaml.org,2002:python/\n---\n_BASE_: {tiny}\n"
                      "SEED: !p!object/apply:builtins.open ['{marker}', 'w']\n", "line 4, .*python/object/apply"),
    ("apply-in-list", "_BASE_: {tiny}\nSOLVER:\n  STEPS: [1, !!python/object/apply:builtins.open ['{marker}', 'w']]\n",
     "line 3, .*python/object/apply"),
]


def _write_configs(folder: Path, text: str) -> tuple[Path, Path]:
    marker = folder / "marker"
    (folder / "evil_base.yaml").write_text(f"SEED: !!python/object/apply:builtins.open ['{marker}', 'w']\n",
                                           encoding="utf-8")
    path = folder / "config.yaml"
    path.write_text(text.format(tiny=TINY, marker=marker), encoding="utf-8")
    return path, marker


def _through_build_config(path, opts=()):
    from gpa.engine import build_config

    build_config(path, opts)


def _through_train_net(train_net, path, opts=(), extra=()):
    from detectron2.engine import default_argument_parser

    train_net.main(default_argument_parser().parse_args(["--config-file", str(path), *extra, *map(str, opts)]))


def _through_demo(demo, path, opts=()):
    demo.main(["--config-file", str(path), "--weights", str(path.parent / "model.pth"), "--input",
               str(path.parent), "--output", str(path.parent / "out"), "--vocabulary", "cat;dog",
               "--opts", *map(str, opts)])


def _through_predictor(path, opts=()):
    from gpa.inference import Predictor

    Predictor(path, path.parent / "model.pth", opts=list(opts))


ENTRY_POINTS = ["build_config", "train_net", "train_net --eval-only", "demo", "Predictor"]


def _run_entry_point(entry, request, path, opts=()):
    if entry == "build_config":
        return _through_build_config(path, opts)
    if entry == "train_net":
        return _through_train_net(request.getfixturevalue("train_net"), path, opts)
    if entry == "train_net --eval-only":
        return _through_train_net(request.getfixturevalue("train_net"), path, opts, extra=["--eval-only"])
    if entry == "demo":
        return _through_demo(request.getfixturevalue("demo"), path, opts)
    return _through_predictor(path, opts)


@pytest.mark.parametrize("name, text, pattern", MALICIOUS, ids=[m[0] for m in MALICIOUS])
def test_each_malicious_config_is_a_real_attack(tmp_path, name, text, pattern):
    """Read with yaml.unsafe_load (what detectron2's merge_from_file falls back to) each file creates its marker."""
    import yaml

    path, marker = _write_configs(tmp_path, text)
    loaded = yaml.unsafe_load(path.read_text(encoding="utf-8"))
    if not marker.exists():  # the payload sits in the _BASE_ file
        yaml.unsafe_load((tmp_path / loaded["_BASE_"]).read_text(encoding="utf-8"))
    assert marker.exists()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("name, text, pattern", MALICIOUS, ids=[m[0] for m in MALICIOUS])
def test_malicious_config_never_runs(tmp_path, request, entry, name, text, pattern):
    path, marker = _write_configs(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as info:
        _run_entry_point(entry, request, path)
    assert "is not allowed" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("extra", [[], ["--num-gpus", "2"]], ids=["one-process", "two-processes"])
def test_train_net_command_line_refuses_a_malicious_config_with_one_line(tmp_path, extra):
    path, marker = _write_configs(tmp_path, MALICIOUS[0][1])
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", str(path), *extra],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1 and not marker.exists()
    assert f"error: {path}, line 2" in proc.stderr and "Traceback" not in proc.stderr


# (id, config text or None for the tiny config, overrides, pattern naming the input)
BAD_CONFIGS = [
    ("empty-file", "", (), "config.yaml is empty"),
    ("list-file", "- 1\n- 2\n", (), "config.yaml holds a list at its top level"),
    ("unknown-key", "_BASE_: {tiny}\nSOLVER:\n  MAX_ITERS: 3\n", (), "config.yaml: Non-existent config key: SOLVER"),
    ("duplicate-key", "_BASE_: {tiny}\nSEED: 1\nSEED: 2\n", (), "config.yaml, line 3, .*'SEED' appears twice"),
    ("max-iter-negative", None, ("SOLVER.MAX_ITER", -5), "SOLVER.MAX_ITER = -5; valid: an integer >= 1"),
    ("checkpoint-period-0", None, ("SOLVER.CHECKPOINT_PERIOD", 0), "SOLVER.CHECKPOINT_PERIOD = 0"),
    ("ims-per-batch-0", None, ("SOLVER.IMS_PER_BATCH", 0), "SOLVER.IMS_PER_BATCH = 0"),
    ("queries-0", None, ("MODEL.MASK_FORMER.NUM_OBJECT_QUERIES", 0), "NUM_OBJECT_QUERIES = 0"),
    ("threshold-above-1", None, ("MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD", 5.0), "OBJECT_MASK_THRESHOLD = 5.0"),
    ("lr-infinite", None, ("SOLVER.BASE_LR", "1e999"), "SOLVER.BASE_LR = inf"),
    ("odd-overrides", None, ("SOLVER.MAX_ITER",), "KEY VALUE pairs"),
    ("unknown-override", None, ("SOLVER.MAXITER", 5), "Non-existent key: SOLVER.MAXITER"),
    ("unknown-extension", "_BASE_: {tiny}\nEXTENSIONS: ['os']\n", (),
     "config.yaml: EXTENSIONS names the extension 'os', which is not installed; installed gpa extensions: "),
    ("extension-not-a-name", None, ("EXTENSIONS", "(1,)"), r"EXTENSIONS = \(1,\); valid: a list of extension names"),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("name, text, opts, pattern", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_configs_are_named_by_every_entry_point(tmp_path, request, entry, name, text, opts, pattern):
    if text is None:
        path = TINY
    else:
        path = tmp_path / "config.yaml"
        path.write_text(text.format(tiny=TINY), encoding="utf-8")
    with pytest.raises(ConfigError, match=pattern):
        _run_entry_point(entry, request, path, opts)


@pytest.mark.parametrize("entry", ["train_net", "Predictor"])
def test_cuda_without_a_gpu_is_named(request, monkeypatch, entry):
    monkeypatch.setitem(config_validation.DEVICE_KINDS, "cuda", lambda: False)
    with pytest.raises(ValueError, match=r"device 'cuda' was asked for \(MODEL.DEVICE of .*gpa_tiny.yaml\) but is "
                                         "not available here"):
        _run_entry_point(entry, request, TINY, ("MODEL.DEVICE", "cuda"))


@pytest.mark.parametrize("extra, key", [([], "TRAIN"), (["--eval-only"], "TEST")])
def test_train_net_needs_its_datasets(train_net, extra, key):
    with pytest.raises(ConfigError, match=f"DATASETS.{key} is empty, but .* name at least one"):
        _through_train_net(train_net, TINY, (f"DATASETS.{key}", "()"), extra)


def test_train_net_periodic_evaluation_needs_test_datasets(train_net):
    with pytest.raises(ConfigError, match="TEST.EVAL_PERIOD is 5 but DATASETS.TEST is empty"):
        _through_train_net(train_net, TINY, ("DATASETS.TEST", "()", "TEST.EVAL_PERIOD", "5"))


@pytest.mark.parametrize("key, value, message", [
    ("SOLVER.OPTIMIZER", "ADAM", r"unknown optimizer 'ADAM' \(SOLVER.OPTIMIZER\); valid: ADAMW, SGD"),
    ("SOLVER.LR_SCHEDULER_NAME", "PolyLR", r"unknown learning-rate schedule 'PolyLR' \(SOLVER.LR_SCHEDULER_NAME\); "
                                           "valid: WarmupCosineLR, WarmupMultiStepLR, WarmupPolyLR"),
])
def test_train_net_names_an_unregistered_optimizer_or_schedule_before_training(train_net, key, value, message):
    with pytest.raises(ConfigError, match=message):
        _through_train_net(train_net, TINY, (key, value))


@pytest.mark.parametrize("content, pattern", [
    (b'{"embed_dim": 64, "vision_cfg": {', "is not valid JSON: .*looks truncated"),
    (b'{"embed_dim": "caf\xe9"}', "is not UTF-8 text"),
    (None, "does not exist"),
])
@pytest.mark.parametrize("entry", ["build_config", "Predictor"])
def test_bad_model_config_file_is_named_when_the_config_loads(tmp_path, request, entry, content, pattern):
    path = tmp_path / "my_clip.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises((ConfigError, FileNotFoundError), match=pattern) as info:
        _run_entry_point(entry, request, TINY, ("MODEL.CLIP.MODEL_CONFIG_FILES", f"('{path}',)"))
    assert f"open_clip model config (MODEL.CLIP.MODEL_CONFIG_FILES) {path}" in str(info.value)


def test_non_utf8_class_file_override_is_named(tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_bytes(b"0:caf\xe9\n")
    with pytest.raises(ValueError, match=f"class file {classes} is not UTF-8 text .*line 1"):
        _through_build_config(TINY, ("DATASETS.CLASS_FILE_OVERRIDES", f"('gpa_toy_val={classes}',)"))


# ------------------------------------------------------------------ demo options
DEMO_OPTIONS = [
    (["--confidence-threshold", "5"], "--confidence-threshold: 5.0 is out of range; valid: a number in [0.0, 1.0]"),
    (["--confidence-threshold", "nan"], "--confidence-threshold: nan is out of range"),
    (["--confidence-threshold", "-0.1"], "--confidence-threshold: -0.1 is out of range"),
    (["--confidence-threshold", "0.3", "--task", "panoptic"], "--confidence-threshold filters instance results only"),
    (["--video-fps", "0"], "--video-fps: 0.0 is out of range; valid: a number in (0.0, inf)"),
    (["--video-fps", "-25"], "--video-fps: -25.0 is out of range"),
    (["--batch-size", "0"], "--batch-size: 0 is out of range; valid: an integer >= 1"),
    (["--num-workers", "-1"], "--num-workers: -1 is out of range; valid: an integer >= 0"),
    (["--vis-scale", "0"], "--vis-scale: 0.0 is out of range"),
    (["--vis-scale", "inf"], "--vis-scale: inf is out of range"),
    (["--batch-size", "two"], "--batch-size: 'two' is not an integer"),
    (["--output", str(TINY)], f"--output {TINY} is a file; it must be a folder"),
]


@pytest.mark.parametrize("extra, pattern", DEMO_OPTIONS, ids=[" ".join(e) for e, _ in DEMO_OPTIONS])
def test_demo_options_out_of_range_are_refused_by_name(demo, tmp_path, capsys, extra, pattern):
    with pytest.raises(SystemExit) as info:
        demo.main(["--config-file", str(TINY), "--input", str(tmp_path), "--output", str(tmp_path / "out"),
                   "--vocabulary", "cat", *extra])
    assert info.value.code == 2
    assert pattern in capsys.readouterr().err


def test_demo_non_utf8_vocabulary_file_is_named(demo, tmp_path):
    vocabulary = tmp_path / "classes.txt"
    vocabulary.write_bytes(b"0:caf\xe9\n1:dog\n")
    with pytest.raises(ValueError, match=f"class file {vocabulary} is not UTF-8 text"):
        demo.main(["--config-file", str(TINY), "--input", str(tmp_path), "--output", str(tmp_path / "out"),
                   "--vocabulary-file", str(vocabulary)])


# ------------------------------------------------------------------ verify.py
@pytest.mark.parametrize("value, pattern", [
    ("-1", "--max-files: -1 is out of range; valid: an integer >= 1 (leave the option out"),
    ("0", "--max-files: 0 is out of range"),
    ("all", "--max-files: 'all' is not an integer"),
])
def test_verify_max_files_must_be_positive(verify, capsys, value, pattern):
    with pytest.raises(SystemExit) as info:
        verify.main(["gpa_toy_val", "--max-files", value])
    assert info.value.code == 2
    assert pattern in capsys.readouterr().err


def test_verify_dataset_max_files_must_be_positive():
    from gpa.data.verification import verify_dataset

    for bad in (-1, 0, 1.5, True):
        with pytest.raises(ValueError, match="max_files must be a positive number of images"):
            verify_dataset("gpa_toy_val", max_files=bad)


# ------------------------------------------------------------------ file readers
def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width x height RGB pixels (no pixel data: a decompression-bomb shape)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def _truncated_png(path: Path) -> Path:
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    return path


def _float_tiff(path: Path) -> Path:
    Image.fromarray(np.zeros((8, 8), np.float32)).save(path)
    return path


BAD_IMAGES = [
    ("bomb-20000x20000.png", lambda p: _png_header(p, 20000, 20000), "is refused as a possible decompression bomb"),
    ("large-10000x9000.png", lambda p: _png_header(p, 10000, 9000), "declares 10000x9000 = 90000000 pixels, over"),
    ("truncated.png", _truncated_png, "cannot read image"),
    ("text.jpg", lambda p: p.write_text("not an image"), "cannot read image"),
    ("empty.png", lambda p: p.write_bytes(b""), "cannot read image"),
    ("float.tif", _float_tiff, r"32-bit float pixels \(PIL mode F\), whose range is unknown"),
]


@pytest.mark.parametrize("name, make, pattern", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_images_are_named(tmp_path, name, make, pattern):
    from gpa.inference.images import load_image

    path = tmp_path / name
    make(path)
    with pytest.raises(ValueError, match=pattern) as info:
        load_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name, make, pattern", BAD_IMAGES[:3], ids=[b[0] for b in BAD_IMAGES[:3]])
def test_training_mapper_names_bad_images(tmp_path, name, make, pattern):
    from detectron2.config import get_cfg

    from gpa.config import add_gpa_config
    from gpa.data.mappers import PanopticLSJDatasetMapper

    cfg = get_cfg()
    add_gpa_config(cfg)
    path = tmp_path / name
    make(path)
    with pytest.raises(ValueError, match=pattern) as info:
        PanopticLSJDatasetMapper(cfg, is_train=True)({"file_name": str(path), "height": 8, "width": 8})
    assert str(path) in str(info.value)


@pytest.mark.parametrize("shape, pattern", [
    ((0, 0, 3), "the image is empty \\(0x0 pixels\\)"),
    ((0, 5, 3), "the image is empty \\(5x0 pixels\\)"),
    ((1, 10000, 3), "an image of 10000x1 pixels cannot be resized .* it would be 160x0\\); crop it"),
])
def test_empty_and_extremely_elongated_images_are_explained(tmp_path, shape, pattern):
    from gpa.inference.images import ImageFiles, ImagePreprocessor, load_image

    preprocessor = ImagePreprocessor(96, 160)
    with pytest.raises(ValueError, match=pattern):
        preprocessor(load_image(np.zeros(shape, np.uint8)))
    if 0 not in shape:  # a file: the error names it
        path = tmp_path / "strip.png"
        Image.fromarray(np.zeros(shape, np.uint8)).save(path)
        with pytest.raises(ValueError, match=f"image {path}: {pattern}"):
            ImageFiles([path], preprocessor)[0]
    assert preprocessor(load_image(np.zeros((5, 1, 3), np.uint8)))["image"].shape == (3, 160, 32)  # elongated, fine


def test_sixteen_bit_gray_png_is_scaled_not_saturated(tmp_path):
    from gpa.inference.images import load_image

    gray = np.array([[0, 257, 32896], [65535, 1000, 60000]], dtype=np.uint16)
    Image.fromarray(gray).save(tmp_path / "gray16.png")
    assert Image.open(tmp_path / "gray16.png").mode == "I;16"
    rgb = load_image(tmp_path / "gray16.png")
    expected = np.round(gray / 257).astype(np.uint8)  # 0..65535 -> 0..255
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb, np.repeat(expected[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(load_image(Image.open(tmp_path / "gray16.png")), rgb)  # a PIL image too
    from gpa.data.image_files import read_image_file

    np.testing.assert_array_equal(read_image_file(tmp_path / "gray16.png", "BGR"), rgb[:, :, ::-1])  # training


@pytest.mark.parametrize("text, pattern", [
    ('{"categories": [', "line 1, column 17 .*looks truncated"),
    ('{"categories": [}', "Expecting value at line 1"),
    ('{"categories": ' + "[" * 100000, "nests JSON arrays or objects too deeply"),
    ("[]", "holds a JSON list, expected an object with \\['categories'\\]"),
    ('{"images": []}', "lacks the field\\(s\\) \\['categories'\\]"),
    (b'{"categories": ["caf\xe9"]}', "is not UTF-8 text"),
])
def test_bad_panoptic_json_is_named(tmp_path, text, pattern):
    from gpa.data.datasets.class_sources import panoptic_json_classes

    path = tmp_path / "panoptic.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError, match=pattern) as info:
        panoptic_json_classes(path, "my_dataset")
    assert str(path) in str(info.value)


@pytest.fixture
def damaged_coco(tmp_path):
    """A registered COCO-format dataset; the test damages one of its JSON files."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from gpa.data import register_coco_panoptic_format
    from tests.synthetic import write_coco_panoptic

    paths = write_coco_panoptic(tmp_path / "coco", num_images=2)
    yield paths, lambda: register_coco_panoptic_format(
        "test_damaged_coco", image_root=paths["image_root"], panoptic_root=paths["panoptic_root"],
        panoptic_json=paths["panoptic_json"], sem_seg_root=paths["sem_seg_root"],
        instances_json=paths["instances_json"], replace=True)
    DatasetCatalog.remove("test_damaged_coco")
    MetadataCatalog.remove("test_damaged_coco")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def test_truncated_panoptic_json_is_named_when_read(damaged_coco):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    paths, register = damaged_coco
    _truncate(paths["panoptic_json"])
    register()  # reads nothing yet
    pattern = f"panoptic json {paths['panoptic_json']} is not valid JSON: .*truncated"
    with pytest.raises(ValueError, match=pattern):
        MetadataCatalog.get("test_damaged_coco").stuff_classes  # noqa: B018
    with pytest.raises(ValueError, match=pattern):
        DatasetCatalog.get("test_damaged_coco")


def test_truncated_instances_json_is_named_by_the_ap_evaluator(damaged_coco):
    from gpa.evaluation import InstanceAPEvaluator

    paths, register = damaged_coco
    register()
    _truncate(paths["instances_json"])
    with pytest.raises(ValueError, match=f"instance annotations {paths['instances_json']} cannot be read"):
        InstanceAPEvaluator("test_damaged_coco")


# ------------------------------------------------------------------ dataset preparation scripts
def test_prepare_ade20k_names_a_damaged_label_file(tmp_path):
    from gpa.data.preparation import ade20k
    from tests.synthetic import write_ade20k_raw

    write_ade20k_raw(tmp_path, num_images=2, instances=False)
    damaged = tmp_path / "ADEChallengeData2016/annotations/validation/ADE_val_00000002.png"
    _truncate(damaged)
    with pytest.raises(ValueError, match=f"cannot read label image {damaged}: .*re-extract it"):
        ade20k.main_semantic(["--root", str(tmp_path), "--splits", "val"])


@pytest.mark.parametrize("content, pattern", [
    (b"MATLAB 5.0 MAT-file, truncated", "cannot read .* as a MATLAB file"),
    (None, "has no 'LabelMap' \\(it has \\['Other'\\]\\)"),
])
def test_prepare_pascal_context_names_a_damaged_mat_file(tmp_path, content, pattern):
    from scipy.io import savemat

    from gpa.data.preparation import pascal
    from tests.synthetic import write_pascal_context_raw

    write_pascal_context_raw(tmp_path, num_images=2)
    mat = sorted((tmp_path / "pascal_context/trainval").glob("*.mat"))[0]
    if content is None:
        savemat(mat, {"Other": np.zeros((2, 2))})
    else:
        mat.write_bytes(content)
    with pytest.raises(ValueError, match=pattern) as info:
        pascal.main_context(["--root", str(tmp_path), "--splits", "val", "train"])
    assert str(mat) in str(info.value)


def test_training_mapper_names_a_panoptic_png_of_the_wrong_size(damaged_coco):
    from detectron2.config import get_cfg
    from detectron2.data import DatasetCatalog

    from gpa.config import add_gpa_config
    from gpa.data.mappers import PanopticLSJDatasetMapper

    _, register = damaged_coco
    register()
    record = DatasetCatalog.get("test_damaged_coco")[0]
    png = Path(record["pan_seg_file_name"])
    Image.fromarray(np.asarray(Image.open(png))[:-3]).save(png)
    cfg = get_cfg()
    add_gpa_config(cfg)
    with pytest.raises(ValueError, match=f"{png}: the panoptic PNG is .* but its image .* is"):
        PanopticLSJDatasetMapper(cfg, is_train=True)(record)


def test_a_refused_class_file_override_leaves_the_dataset_as_it_was(tmp_path):
    from detectron2.data import MetadataCatalog

    from gpa.config_loading import load_config

    load_config(TINY)  # its EXTENSIONS register gpa_toy_val
    before = list(MetadataCatalog.get("gpa_toy_val").stuff_classes)
    classes = tmp_path / "classes.txt"
    classes.write_bytes(b"0:caf\xe9\n")
    with pytest.raises(ValueError, match="is not UTF-8"):
        _through_build_config(TINY, ("DATASETS.CLASS_FILE_OVERRIDES", f"('gpa_toy_val={classes}',)"))
    assert list(MetadataCatalog.get("gpa_toy_val").stuff_classes) == before
