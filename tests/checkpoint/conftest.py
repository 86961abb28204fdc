"""Fixtures of the checkpoint tests."""

from __future__ import annotations

import logging

import pytest

from tests.inference.conftest import tiny_weights  # noqa: F401  (a checkpoint of the tiny model)


@pytest.fixture
def checkpoint_log(caplog):
    """The checkpointer's log records, also when detectron2's setup_logger stopped "gpa" from propagating."""
    logger = logging.getLogger("gpa.checkpoint.checkpointer")
    logger.addHandler(caplog.handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(previous)
