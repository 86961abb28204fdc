"""tools/demo.py on generated images and a generated video, from another working directory."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from panopticapi.utils import rgb2id
from PIL import Image

from gpa.inference.video import VideoReader, VideoWriter
from tests.inference.helpers import REPO, TEST_OPTS, TINY_CONFIG, scene_image

DEMO = REPO / "tools" / "demo.py"


def _demo_module():
    spec = importlib.util.spec_from_file_location("gpa_demo_under_test", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(args, weights):
    _demo_module().main(["--config-file", str(TINY_CONFIG), "--weights", str(weights), *args,
                         "--opts", *TEST_OPTS])


def _photos(folder, count=3):
    folder.mkdir()
    for i in range(count):
        Image.fromarray(scene_image(seed=i, size=(48 + 8 * i, 64))).save(folder / f"photo{i}.{('png', 'jpg')[i % 2]}")


def _read_outputs(out, stem, task):
    record = json.loads((out / f"{stem}_segments.json").read_text(encoding="utf-8"))
    png = np.asarray(Image.open(out / f"{stem}_{task}.png"))
    vis = np.asarray(Image.open(out / f"{stem}_visualization.png"))
    return record, png, vis


def test_demo_on_a_folder_writes_three_agreeing_files_per_image(tiny_weights, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # relative paths are the user's, whatever the working directory
    _photos(tmp_path / "photos")
    _run(["--input", "photos", "--output", "out", "--vocabulary", "cat;dog,puppy;sky", "--stuff", "sky",
          "--num-workers", "1"], tiny_weights)
    printed = capsys.readouterr().out
    assert "3 images in" in printed and "images/s" in printed
    out = tmp_path / "out"
    assert len(list(out.iterdir())) == 9
    for i in range(3):
        record, png, vis = _read_outputs(out, f"photo{i}", "panoptic")
        ids = rgb2id(png)
        assert ids.shape == vis.shape[:2] == (48 + 8 * i, 64)
        assert record["classes"] == ["cat", "dog,puppy", "sky"]
        assert {s["id"] for s in record["segments"]} == set(np.unique(ids).tolist()) - {0}
        for segment in record["segments"]:
            assert segment["area"] == int((ids == segment["id"]).sum())
            assert segment["isthing"] == (segment["class_name"] != "sky")
    assert any(json.loads(p.read_text())["segments"] for p in out.glob("*.json"))  # the check above is not vacuous


@pytest.mark.parametrize("task, extra", [("semantic", []), ("instance", ["--confidence-threshold", "0.1"])])
def test_demo_semantic_and_instance_with_a_vocabulary_file(tiny_weights, tmp_path, task, extra, capsys):
    _photos(tmp_path / "photos", count=1)
    classes = tmp_path / "classes.txt"
    classes.write_text("0:cat\n1:dog,puppy\n2:sky\n", encoding="utf-8")
    _run(["--input", str(tmp_path / "photos" / "*.png"), "--output", str(tmp_path / "out"), "--task", task,
          "--vocabulary-file", str(classes), "--num-workers", "0", *extra], tiny_weights)
    assert "1 images in" in capsys.readouterr().out
    record, png, _ = _read_outputs(tmp_path / "out", "photo0", task)
    values = png if task == "semantic" else rgb2id(png)
    assert record["segments"] and record["task"] == task
    if task == "semantic":
        assert {s["id"] for s in record["segments"]} == set(np.unique(values).tolist())
    else:
        assert all(s["score"] >= 0.1 for s in record["segments"])
        assert set(np.unique(values).tolist()) - {0} <= {s["id"] for s in record["segments"]}


def test_demo_video_round_trip(tiny_weights, tmp_path, capsys):
    frames = [scene_image(seed=i, size=(48, 64)) for i in range(4)]
    with VideoWriter(tmp_path / "clip.mp4", fps=5.0, size=(48, 64)) as writer:
        for frame in frames:
            writer.write(frame)
    _run(["--video-input", str(tmp_path / "clip.mp4"), "--output", str(tmp_path / "out"),
          "--vocabulary", "cat;sky", "--task", "semantic", "--vis-scale", "2"], tiny_weights)
    assert "4 frames in" in capsys.readouterr().out
    with VideoReader(tmp_path / "out" / "clip_semantic.mp4") as reader:
        written = list(reader)
        assert reader.fps == pytest.approx(5.0)
    assert len(written) == 4 and all(f.shape == (96, 128, 3) for f in written)  # drawn at twice the size


def test_demo_input_errors(tiny_weights, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(scene_image()).save(tmp_path / folder / "same.png")
    with pytest.raises(SystemExit, match="shared by several inputs, e.g. 'same'"):
        _run(["--input", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "out"),
              "--vocabulary", "cat"], tiny_weights)
    with pytest.raises(SystemExit, match="--stuff applies to --vocabulary"):
        _run(["--input", str(tmp_path / "a"), "--output", str(tmp_path / "out"), "--builtin-vocabulary", "coco",
              "--stuff", "sky"], tiny_weights)
    (tmp_path / "fake.mp4").write_bytes(b"no video here")
    with pytest.raises(ValueError, match="cannot open video"):
        _run(["--video-input", str(tmp_path / "fake.mp4"), "--output", str(tmp_path / "out"),
              "--vocabulary", "cat"], tiny_weights)


def test_demo_script_reports_bad_input_without_a_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, str(DEMO), "--config-file", str(TINY_CONFIG), "--input", str(tmp_path),
         "--output", str(tmp_path / "out"), "--vocabulary", "cat;;dog"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "error: --vocabulary 'cat;;dog' has an empty class at position 1 (two ';' in a row, or a ';' at an end)")
    assert "Traceback" not in run.stderr


def test_video_writer_checks_frames(tmp_path):
    with VideoWriter(tmp_path / "v.mp4", fps=2.0, size=(8, 8)) as writer:
        with pytest.raises(ValueError, match="video frames must be 8x8x3 uint8"):
            writer.write(np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="frame rate .* must be > 0"):
        VideoWriter(tmp_path / "w.mp4", fps=0.0, size=(8, 8))
