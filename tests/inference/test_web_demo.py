"""tools/web_demo.py without a browser: the page's results equal the Predictor's and tools/demo.py's files, bad input
shows the Predictor's messages, vocabularies are embedded once, and the page builds with the expected elements."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from PIL import Image

from gpa.vocabulary import make_vocabulary, parse_vocabulary_string
from tests.inference.helpers import REPO, TEST_OPTS, TINY_CONFIG, scene_image

WEB_DEMO = REPO / "tools" / "web_demo.py"
DEMO = REPO / "tools" / "demo.py"


def _module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def web_demo():
    return _module(WEB_DEMO, "gpa_web_demo_under_test")


@pytest.fixture
def page(web_demo, predictor, tmp_path):
    return web_demo.WebDemo(predictor, tmp_path / "served")


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "street.png"
    Image.fromarray(scene_image(seed=1, size=(56, 72))).save(path)
    return path


@pytest.mark.parametrize("task", ["panoptic", "semantic"])
def test_page_shows_the_predictors_segments_and_the_files_demo_py_writes(web_demo, page, predictor, photo, tmp_path,
                                                                       task):
    shown = page.run(str(photo), "cat;dog,puppy;sky", "sky", task)
    expected = predictor.predict(str(photo), ["cat", "dog,puppy", "sky"], stuff=["sky"], task=task)
    assert expected.segments, "a vacuous comparison: the tiny model found no segment"
    assert shown.rows == web_demo.segment_rows(expected)
    assert shown.status == f"{len(expected.segments)} segments ({task}, 3 classes)"
    assert [row[4] for row in shown.rows] == ["stuff" if s.class_name == "sky" else "thing" for s in expected.segments]

    _module(DEMO, "gpa_demo_for_web_test").main([
        "--config-file", str(TINY_CONFIG), "--weights", str(predictor.cfg.MODEL.WEIGHTS), "--input", str(photo),
        "--output", str(tmp_path / "cli"), "--vocabulary", "cat;dog,puppy;sky", "--stuff", "sky", "--task", task,
        "--num-workers", "0", "--opts", *TEST_OPTS])
    names = ["street_visualization.png", f"street_{task}.png", "street_segments.json"]
    assert [p.rsplit("/", 1)[1] for p in shown.files] == names
    assert shown.overlay == shown.files[0]
    for served, name in zip(shown.files, names):
        written = tmp_path / "cli" / name
        if name.endswith(".json"):
            served_record, written_record = (json.loads(open(p).read()) for p in (served, written))
            served_record.pop("image"), written_record.pop("image")  # the page names the upload, the CLI its path
            assert served_record == written_record
        elif name.endswith("visualization.png"):  # detectron2's Visualizer jitters colours at random
            assert np.asarray(Image.open(served)).shape == np.asarray(Image.open(written)).shape == (56, 72, 3)
        else:
            assert np.array_equal(np.asarray(Image.open(served)), np.asarray(Image.open(written)))


def test_instance_results_are_filtered_by_the_threshold(web_demo, predictor, photo, tmp_path):
    page = web_demo.WebDemo(predictor, tmp_path, confidence_threshold=0.3)
    shown = page.run(str(photo), "cat;dog,puppy;sky", "", "instance")
    expected = predictor.predict(str(photo), ["cat", "dog,puppy", "sky"], task="instance").filter_by_score(0.3)
    assert shown.rows == web_demo.segment_rows(expected)
    assert all(row[2] >= 0.3 for row in shown.rows)


def _message(call):
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("vocabulary, stuff, expected", [
    ("", "", lambda: parse_vocabulary_string("", "the vocabulary")),
    ("   ", "", lambda: parse_vocabulary_string("   ", "the vocabulary")),
    ("cat;;sky", "", lambda: parse_vocabulary_string("cat;;sky", "the vocabulary")),
    ("cat,kitty;kitty", "", lambda: make_vocabulary(["cat,kitty", "kitty"])),
    ("cat;sky", "road", lambda: make_vocabulary(["cat", "sky"], ["road"])),
])
def test_bad_input_shows_the_predictors_message_and_no_outputs(page, photo, vocabulary, stuff, expected):
    shown = page.run(str(photo), vocabulary, stuff, "panoptic")
    assert shown.status == f"Error: {_message(expected)}"
    assert shown.overlay is None and shown.rows is None and shown.files is None


def test_no_image_and_an_unreadable_image_are_errors(page, tmp_path):
    assert page.run(None, "cat", "", "panoptic").status == "Error: no image: upload an image first"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    status = page.run(str(broken), "cat", "", "panoptic").status
    assert status.startswith("Error: ") and "broken.png" in status


def test_each_vocabulary_is_embedded_once(page, photo, monkeypatch):
    classifier = page.predictor.model.text_classifier
    calls = []
    embed = classifier._embed
    monkeypatch.setattr(classifier, "_embed", lambda vocabulary: calls.append(vocabulary.strings) or embed(vocabulary))
    classifier.clear_cache()
    for vocabulary in ("cat;sky", "cat;sky", "cat;sky;tree", "cat;sky"):
        assert not page.run(str(photo), vocabulary, "", "semantic").status.startswith("Error")
    assert calls == [["cat", "sky"], ["cat", "sky", "tree"]]


def test_page_has_every_element_the_browser_test_uses(web_demo, page):
    blocks = web_demo.build_page(page, web_demo.DEFAULT_VOCABULARY, web_demo.DEFAULT_STUFF)
    ids = {block.elem_id for block in blocks.blocks.values()}
    assert set(web_demo.ELEMENT_IDS.values()) <= ids


def test_default_weights_missing_says_how_to_get_them(web_demo, monkeypatch, tmp_path):
    monkeypatch.setattr(web_demo, "DEFAULT_WEIGHTS", tmp_path / "model_final.pth")
    with pytest.raises(FileNotFoundError, match=r"bash tools/run_main.sh"):
        web_demo.main([])
