"""The Predictor on the tiny random-init model: every input type and task, vocabulary changes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from detectron2.data import transforms as T
from PIL import Image

from gpa.inference import Predictor
from gpa.inference.result import mask_box
from gpa.vocabulary import Vocabulary
from tests.inference.helpers import TEST_OPTS, TINY_CONFIG, scene_image

CLASSES = ["cat", "dog,puppy", "sky"]


def _check_well_formed(result, vocabulary: Vocabulary, size: tuple[int, int]) -> None:
    """Segments agree with the task's map and the vocabulary; masks, areas and boxes agree with each other."""
    assert result.image_size == size and result.segmentation.shape == size
    ids = [s.id for s in result.segments]
    assert len(ids) == len(set(ids))
    for segment in result.segments:
        assert segment.class_name == vocabulary.names[segment.class_id]
        mask = segment.mask
        assert mask.shape == size and mask.dtype == bool
        assert segment.area == int(mask.sum())
        assert segment.box == mask_box(mask)
        if result.task != "instance":
            assert segment.isthing == vocabulary.is_thing[segment.class_id]
    if result.task == "panoptic":
        assert set(np.unique(result.panoptic_map).tolist()) - {0} == set(ids)
        assert result.panoptic_map.dtype == np.int32
    if result.task == "semantic":
        assert set(np.unique(result.semantic_map).tolist()) == set(ids)
        assert all(0.0 <= s.score <= 1.0 for s in result.segments)
    if result.task == "instance":
        scores = [s.score for s in result.segments]
        assert scores == sorted(scores, reverse=True) and ids == list(range(1, len(ids) + 1))
        assert set(np.unique(result.instance_map).tolist()) - {0} <= set(ids)


@pytest.mark.parametrize("task", ["panoptic", "semantic", "instance"])
def test_every_input_type_gives_the_same_well_formed_result(predictor, task, tmp_path):
    rgb = scene_image(size=(50, 70))
    Image.fromarray(rgb).save(tmp_path / "scene.png")
    results = [predictor.predict(image, CLASSES, task=task, stuff=["sky"])
               for image in (rgb, Image.fromarray(rgb), tmp_path / "scene.png", str(tmp_path / "scene.png"))]
    vocabulary = predictor.vocabulary(CLASSES, ["sky"])
    assert vocabulary.is_thing == (True, True, False)
    for result in results:
        assert result.task == task and result.vocabulary == vocabulary
        _check_well_formed(result, vocabulary, (50, 70))
        np.testing.assert_array_equal(result.segmentation, results[0].segmentation)
        assert [s.to_dict() for s in result.segments] == [s.to_dict() for s in results[0].segments]
    assert results[0].segments, f"the test model should find some {task} segment"
    assert set(results[0].raw) == {{"panoptic": "panoptic_seg", "semantic": "sem_seg",
                                     "instance": "instances"}[task]}  # only the asked task is computed


def test_results_equal_the_model_run_by_hand_like_default_predictor(predictor):
    rgb = scene_image(seed=3, size=(48, 64))
    cfg = predictor.cfg
    resized = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST).get_transform(rgb)
    image = torch.as_tensor(resized.apply_image(rgb).astype("float32").transpose(2, 0, 1))
    vocabulary = Vocabulary.from_strings(CLASSES)
    with torch.no_grad():
        expected = predictor.model([{"image": image, "height": 48, "width": 64, "vocabulary": vocabulary}])[0]
    result = predictor.predict(rgb, CLASSES, task="semantic")
    torch.testing.assert_close(result.raw["sem_seg"], expected["sem_seg"], rtol=0, atol=0)
    np.testing.assert_array_equal(result.semantic_map, expected["sem_seg"].argmax(0).numpy())


def test_grayscale_and_rgba_inputs_are_converted_not_rejected(predictor):
    gray = scene_image()[:, :, 1]
    as_rgb = np.repeat(gray[:, :, None], 3, axis=2)
    a = predictor.predict(gray, CLASSES, task="semantic")
    b = predictor.predict(as_rgb, CLASSES, task="semantic")
    torch.testing.assert_close(a.raw["sem_seg"], b.raw["sem_seg"], rtol=0, atol=0)
    rgba = np.dstack([scene_image(), np.full(gray.shape, 128, np.uint8)])
    c = predictor.predict(Image.fromarray(rgba), CLASSES, task="semantic")
    d = predictor.predict(scene_image(), CLASSES, task="semantic")
    torch.testing.assert_close(c.raw["sem_seg"], d.raw["sem_seg"], rtol=0, atol=0)


def test_vocabulary_changes_reuse_the_model_and_cache_text_embeddings(predictor):
    model = predictor.model
    calls = []
    hook = model.backbone.clip_model.transformer.register_forward_hook(lambda *args: calls.append(1))
    try:
        first = predictor.predict(scene_image(), ["zebra", "lamp post"], task="semantic")
        encoded = len(calls)
        again = predictor.predict(scene_image(seed=1), ["zebra", "lamp post"], task="semantic")
        assert encoded > 0 and len(calls) == encoded  # same vocabulary: no text encoding
        other = predictor.predict(scene_image(), ["tree", "car", "road", "cloud"], task="semantic")
        assert len(calls) > encoded
    finally:
        hook.remove()
    assert predictor.model is model
    assert first.raw["sem_seg"].shape[0] == 2 and again.raw["sem_seg"].shape[0] == 2
    assert other.raw["sem_seg"].shape[0] == 4
    assert {s.class_name for s in other.segments} <= {"tree", "car", "road", "cloud"}
    assert int(other.semantic_map.max()) < 4


def test_builtin_and_default_vocabularies(predictor, tiny_weights):
    coco = predictor.predict(scene_image(), "coco", task="semantic")
    assert coco.raw["sem_seg"].shape[0] == 133 and coco.vocabulary.names[0] == "person"
    with_default = Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS, vocabulary=["cat", "sky"])
    assert with_default.predict(scene_image(), task="semantic").vocabulary.names == ["cat", "sky"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"vocabulary": []}, ValueError, "the vocabulary is empty"),
    ({"vocabulary": ["cat", "dog", "cat"]}, ValueError, "duplicate class name 'cat'"),
    ({"vocabulary": ["car,automobile", "automobile"]}, ValueError, "duplicate class name 'automobile'"),
    ({"vocabulary": None}, ValueError, "no vocabulary: pass vocabulary="),
    ({"vocabulary": "car;person"}, ValueError, "unknown builtin vocabulary 'car;person'.*give a list of names"),
    ({"vocabulary": "coco", "stuff": ["sky"]}, ValueError, "stuff= applies to lists of class names"),
    ({"vocabulary": ["cat"], "task": "depth"}, ValueError, "unknown task 'depth'; valid tasks"),
])
def test_bad_predict_arguments_are_explained(predictor, kwargs, error, message):
    with pytest.raises(error, match=message):
        predictor.predict(scene_image(), **kwargs)


def test_unreadable_image_names_the_path(predictor, tmp_path):
    (tmp_path / "photo.jpg").write_text("this is text", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read image .*photo.jpg"):
        predictor.predict(tmp_path / "photo.jpg", CLASSES)


def test_device_and_training_vocabulary(tiny_weights):
    with pytest.raises(ValueError, match="device 'tpu' is not a torch device; valid: cpu, cuda"):
        Predictor(TINY_CONFIG, tiny_weights, device="tpu", opts=TEST_OPTS)
    with pytest.raises(ValueError, match="device 'meta' is not supported; valid kinds: cpu, cuda"):
        Predictor(TINY_CONFIG, tiny_weights, device="meta", opts=TEST_OPTS)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' was asked for .* not available here"):
            Predictor(TINY_CONFIG, tiny_weights, device="cuda", opts=TEST_OPTS)
    from_config = Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS)
    assert "red circle" in from_config.model.train_vocabulary.names  # the toy training set, no files read
    given = Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS, train_vocabulary="coco")
    assert len(given.model.train_vocabulary) == 133
    assert given.model.seen_mask(Vocabulary.from_strings(["automobile", "zebra", "spaceship"])).tolist() == [
        True, True, False]


def test_predict_files_batches_with_workers_in_order(predictor, tmp_path):
    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"img{seed}.png")
        Image.fromarray(scene_image(seed=seed, size=(40 + 4 * seed, 60))).save(paths[-1])
    single = [predictor.predict(p, CLASSES, task="panoptic") for p in paths]
    batched = list(predictor.predict_files(paths, CLASSES, task="panoptic", batch_size=2, num_workers=1))
    assert [p for p, _, _ in batched] == paths
    for (_, image, result), reference, path in zip(batched, single, paths):
        np.testing.assert_array_equal(image, np.asarray(Image.open(path)))
        assert result.image_size == image.shape[:2]
        # padding a batch to one size changes the numbers slightly, not the shapes
        assert result.panoptic_map.shape == reference.panoptic_map.shape


def test_model_construction_needs_no_registered_dataset(tiny_weights):
    opts = [*TEST_OPTS, "DATASETS.TRAIN", "('my_own_unregistered_train',)", "DATASETS.TEST", "('nor_this',)"]
    with pytest.raises(ValueError, match="'my_own_unregistered_train' is neither a registered dataset.*"
                                         "pass train_vocabulary="):
        Predictor(TINY_CONFIG, tiny_weights, opts=opts)
    predictor = Predictor(TINY_CONFIG, tiny_weights, opts=opts, train_vocabulary=["red circle", "stripes"])
    assert predictor.predict(scene_image(), ["red circle", "green star"], task="semantic").segments
    assert predictor.model.seen_mask(predictor.vocabulary(["red circle", "green star"])).tolist() == [True, False]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_predictions_match_the_cpu(predictor, tiny_weights):
    on_gpu = Predictor(TINY_CONFIG, tiny_weights, device="cuda", opts=TEST_OPTS)
    for task in ("panoptic", "semantic", "instance"):
        cpu = predictor.predict(scene_image(), CLASSES, task=task)
        gpu = on_gpu.predict(scene_image(), CLASSES, task=task)
        _check_well_formed(gpu, gpu.vocabulary, cpu.image_size)
    cpu = predictor.predict(scene_image(), CLASSES, task="semantic").raw["sem_seg"]
    gpu = on_gpu.predict(scene_image(), CLASSES, task="semantic").raw["sem_seg"]
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-3)
