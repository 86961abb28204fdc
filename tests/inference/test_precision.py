"""Predictor(precision=...) and demo --precision turn inference autocast (TEST.AMP) on and off."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from gpa.inference import Predictor
from tests.inference.helpers import REPO, TEST_OPTS, TINY_CONFIG, scene_image

CLASSES = ["cat", "dog,puppy", "sky"]


def test_predictor_precision_sets_inference_autocast(tiny_weights, predictor):
    bf16 = Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS, precision="bf16")
    assert bf16.cfg.TEST.AMP.ENABLED and bf16.cfg.TEST.AMP.DTYPE == "bfloat16"
    assert str(bf16.model.inference_amp_dtype) == "torch.bfloat16"
    assert predictor.model.inference_amp_dtype is None  # the config's default: float32
    fp32 = Predictor(TINY_CONFIG, tiny_weights, opts=[*TEST_OPTS, "TEST.AMP.ENABLED", "True"], precision="fp32")
    assert fp32.model.inference_amp_dtype is None  # the argument overrides the config
    want = predictor.predict(scene_image(), CLASSES, task="panoptic")
    got = bf16.predict(scene_image(), CLASSES, task="panoptic")
    assert got.panoptic_map.shape == want.panoptic_map.shape and got.panoptic_map.dtype == np.int32
    with pytest.raises(ValueError, match="precision 'half' is not supported; valid: fp32, bf16, fp16"):
        Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS, precision="half")


def test_demo_precision_flag(tiny_weights, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("gpa_demo_precision", REPO / "tools" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    made = {}

    class Recording(Predictor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made["dtype"] = self.model.inference_amp_dtype

    monkeypatch.setattr(demo, "Predictor", Recording)
    image = tmp_path / "scene.png"
    Image.fromarray(scene_image()).save(image)
    demo.main(["--config-file", str(TINY_CONFIG), "--weights", str(tiny_weights), "--input", str(image),
               "--output", str(tmp_path / "out"), "--vocabulary", "cat;sky", "--precision", "fp16",
               "--num-workers", "0", "--opts", *TEST_OPTS])
    assert str(made["dtype"]) == "torch.float16"
    assert (tmp_path / "out" / "scene_panoptic.png").is_file()
