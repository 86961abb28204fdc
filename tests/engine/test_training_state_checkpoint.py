"""Checkpoints written by the trainer load with torch.load(weights_only=True), RNG states included."""

from __future__ import annotations

import random

import numpy as np
import torch

from gpa.engine.training_state import TrainingStateHook


def test_training_state_round_trips_through_a_weights_only_load(tmp_path):
    hook = TrainingStateHook(data_seed=7)
    np.random.seed(3)
    random.seed(4)
    torch.manual_seed(5)
    torch.save({"trainer": {"hooks": {"TrainingStateHook": hook.state_dict()}}}, tmp_path / "ck.pth")
    expected = (np.random.rand(3), random.random(), torch.rand(3))

    np.random.seed(0)
    random.seed(0)
    torch.manual_seed(0)
    state = torch.load(tmp_path / "ck.pth", weights_only=True)["trainer"]["hooks"]["TrainingStateHook"]
    restored = TrainingStateHook(data_seed=0)
    restored.load_state_dict(state)
    assert restored.data_seed == 7
    assert np.array_equal(np.random.rand(3), expected[0])
    assert random.random() == expected[1]
    assert torch.equal(torch.rand(3), expected[2])
