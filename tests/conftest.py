"""Shared fixtures: an isolated dataset cache, the tiny config, and a generated COCO-format dataset."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = REPO.parent / "shared" / "samples" / "coco_panoptic"


def pytest_configure(config):
    # Generated datasets (the toy world) go to one cache per test session unless the caller chose one.
    os.environ.setdefault("GPA_CACHE", tempfile.mkdtemp(prefix="gpa-test-cache-"))
    os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def tiny_cfg(tmp_path):
    """The tiny CPU config (configs/tiny/gpa_tiny.yaml) read by gpa's loader (which loads its EXTENSIONS, the toy
    world), unfrozen, writing into tmp_path."""
    from gpa.config_loading import load_config

    cfg, _ = load_config(REPO / "configs" / "tiny" / "gpa_tiny.yaml")
    cfg.OUTPUT_DIR = str(tmp_path / "output")
    return cfg


@pytest.fixture
def coco_like(tmp_path):
    """Name of a registered 4-image COCO-panoptic dataset (64x96, seed 0) written under tmp_path."""
    from tests.synthetic.coco import register_written_coco_panoptic, write_coco_panoptic

    paths = write_coco_panoptic(tmp_path / "coco", num_images=4, size=(64, 96), seed=0)
    return register_written_coco_panoptic(f"test_coco_like_{tmp_path.name}", paths)
