"""Fixtures of the inference tests: a checkpoint of the tiny random-init model and a Predictor on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inference.helpers import TEST_OPTS, TINY_CONFIG, build_tiny_model, save_checkpoint


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A checkpoint of the tiny model, as our trainer saves it (all weights, CLIP included)."""
    return save_checkpoint(build_tiny_model(), tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def predictor(tiny_weights):
    from gpa.inference import Predictor

    return Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS)
