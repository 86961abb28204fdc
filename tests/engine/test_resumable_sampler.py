import itertools

import pytest

from gpa.engine.resumable_sampler import ResumableTrainingSampler


def test_started_stream_is_the_tail_of_the_full_stream():
    full = list(itertools.islice(iter(ResumableTrainingSampler(7, seed=3)), 40))
    resumed = list(itertools.islice(iter(ResumableTrainingSampler(7, seed=3, start_index=12)), 28))
    assert resumed == full[12:]
    assert sorted(full[:7]) == list(range(7)) and full[:7] != list(range(7))


def test_seed_changes_order_and_errors_are_clear():
    a = list(itertools.islice(iter(ResumableTrainingSampler(20, seed=0)), 20))
    b = list(itertools.islice(iter(ResumableTrainingSampler(20, seed=1)), 20))
    assert a != b
    with pytest.raises(ValueError, match="training set is empty"):
        ResumableTrainingSampler(0, seed=0)
