"""Reading user images as RGB, resizing like DefaultPredictor, and finding image files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gpa.inference import collect_image_paths, load_image
from gpa.inference.images import ImageFiles, ImagePreprocessor
from tests.inference.helpers import scene_image


def test_paths_pil_images_and_arrays_give_the_same_rgb(tmp_path):
    rgb = scene_image()
    Image.fromarray(rgb).save(tmp_path / "a.png")
    for source in (tmp_path / "a.png", str(tmp_path / "a.png"), Image.fromarray(rgb), rgb):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == (60, 80, 3)
        np.testing.assert_array_equal(out, rgb)


def test_grayscale_rgba_and_palette_images_are_converted(tmp_path):
    gray = (np.arange(60 * 80) % 256).astype(np.uint8).reshape(60, 80)
    expected_gray = np.repeat(gray[:, :, None], 3, axis=2)
    rgba = np.dstack([scene_image(), np.full((60, 80), 7, np.uint8)])
    np.testing.assert_array_equal(load_image(gray), expected_gray)
    np.testing.assert_array_equal(load_image(gray[:, :, None]), expected_gray)
    np.testing.assert_array_equal(load_image(rgba), scene_image())  # alpha dropped

    Image.fromarray(gray).save(tmp_path / "gray.png")
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(scene_image()).convert("P").save(tmp_path / "palette.png")
    np.testing.assert_array_equal(load_image(tmp_path / "gray.png"), expected_gray)
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png"), scene_image())
    palette = Image.open(tmp_path / "palette.png")
    assert palette.mode == "P"
    np.testing.assert_array_equal(load_image(tmp_path / "palette.png"), np.asarray(palette.convert("RGB")))


def test_unreadable_and_missing_images_name_the_path(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=f"cannot read image {bad}"):
        load_image(bad)
    with pytest.raises(FileNotFoundError, match="image .*missing.png does not exist"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("image, error, message", [
    (np.zeros((4, 4, 3), np.float32), TypeError, "must be uint8"),
    (np.zeros((4, 4, 2), np.uint8), ValueError, "HxW \\(gray\\), HxWx3 \\(RGB\\) or HxWx4"),
    ([[0, 1]], TypeError, "cannot read an image from a list"),
])
def test_bad_arrays_are_explained(image, error, message):
    with pytest.raises(error, match=message):
        load_image(image)


def test_preprocessing_resizes_the_short_side_and_keeps_the_original_size():
    rgb = scene_image(size=(60, 90))
    out = ImagePreprocessor(min_size=40, max_size=200)(rgb)
    assert out["image"].shape == (3, 40, 60) and out["image"].dtype == torch.float32
    assert (out["height"], out["width"]) == (60, 90)
    capped = ImagePreprocessor(min_size=40, max_size=50)(rgb)  # long side capped: scale 50/90
    assert capped["image"].shape == (3, 33, 50)
    same = ImagePreprocessor(min_size=60, max_size=200)(rgb)["image"]
    np.testing.assert_array_equal(same.numpy().transpose(1, 2, 0), rgb.astype(np.float32))
    bgr = ImagePreprocessor(min_size=60, max_size=200, input_format="BGR")(rgb)["image"]
    np.testing.assert_array_equal(bgr.numpy(), same.numpy()[::-1])
    with pytest.raises(ValueError, match="INPUT.FORMAT 'YUV'.*'BGR', 'RGB'"):
        ImagePreprocessor(40, 200, "YUV")


def test_collect_image_paths_from_files_folders_and_globs(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("b.jpg", "a.PNG", "notes.txt"):
        (folder / name).write_bytes(b"x")
    other = tmp_path / "c.png"
    other.write_bytes(b"x")
    paths = collect_image_paths([str(folder), str(tmp_path / "*.png"), str(folder / "b.jpg")])
    assert [p.name for p in paths] == ["a.PNG", "b.jpg", "c.png"]  # folder sorted, glob, duplicate dropped
    with pytest.raises(FileNotFoundError, match="neither a file, a folder nor a pattern"):
        collect_image_paths([str(tmp_path / "nope.jpg")])
    with pytest.raises(FileNotFoundError, match="matches no file"):
        collect_image_paths([str(tmp_path / "*.bmp")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        collect_image_paths([str(tmp_path / "empty")])


def test_image_files_dataset_returns_model_input_and_original(tmp_path):
    Image.fromarray(scene_image()).save(tmp_path / "x.png")
    item = ImageFiles([tmp_path / "x.png"], ImagePreprocessor(30, 100))[0]
    assert item["image"].shape == (3, 30, 40) and (item["height"], item["width"]) == (60, 80)
    assert item["file_name"] == str(tmp_path / "x.png")
    np.testing.assert_array_equal(item["original"], scene_image())
