"""Region-caption alignment of the tiny CLIP: scene batches, area pooling, the loss and the accuracy breakdown."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gpa_toy.region_alignment import (
    held_out_region_batch,
    region_accuracies,
    region_alignment_loss,
    region_embeddings,
    region_predictions,
    sample_region_batch,
)
from gpa_toy.world import ALL_CLASSES, THING_CLASSES, UNSEEN_THINGS, class_by_name


def test_region_batches_are_deterministic_and_consistent():
    batch = sample_region_batch(seed=0, step=3, batch_size=6, image_size=48)
    again = sample_region_batch(seed=0, step=3, batch_size=6, image_size=48)
    other = sample_region_batch(seed=0, step=4, batch_size=6, image_size=48)
    assert np.array_equal(batch.images, again.images) and np.array_equal(batch.labels, again.labels)
    assert not np.array_equal(batch.images, other.images)
    assert batch.images.shape == (6, 48, 48, 3) and batch.images.dtype == np.uint8
    assert batch.masks.shape == (len(batch.labels), 48, 48) and batch.masks.any(axis=(1, 2)).all()
    assert sorted(set(batch.image_index.tolist())) == list(range(6))
    for i in range(6):  # the segments of an image tile it: every pixel belongs to exactly one of them
        assert (batch.masks[batch.image_index == i].sum(axis=0) == 1).all()
    stuff = batch.labels >= len(THING_CLASSES)
    assert stuff.any() and (~stuff).any()
    # each object segment shows its colour: the median pixel is near the class's nominal RGB
    for mask, index, label in zip(batch.masks, batch.image_index, batch.labels):
        if label < len(THING_CLASSES):
            median = np.median(batch.images[index][mask], axis=0)
            assert np.abs(median - np.asarray(ALL_CLASSES[label].colour.rgb)).max() <= 25


def test_region_batches_draw_unseen_combinations():
    labels = np.concatenate([sample_region_batch(0, step, 16, 48).labels for step in range(6)])
    unseen = {ALL_CLASSES.index(c) for c in UNSEEN_THINGS}
    assert unseen & set(labels.tolist())


def test_held_out_scenes_differ_from_pretraining_batches():
    held_out = held_out_region_batch(4, 48, seed=0)
    assert not np.array_equal(held_out.images, sample_region_batch(0, 0, 4, 48).images)
    assert np.array_equal(held_out.images, held_out_region_batch(4, 48, seed=0).images)


def test_region_embeddings_equal_the_mean_over_mask_pixels():
    generator = torch.Generator().manual_seed(0)
    dense = torch.randn(2, 5, 3, 3, generator=generator)
    masks = torch.rand(4, 12, 12, generator=generator) > 0.6
    image_index = torch.tensor([0, 1, 1, 0])
    pooled = region_embeddings(dense, masks, image_index)
    # reference: every pixel carries its dense cell's feature; average over the mask's pixels
    per_pixel = dense.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)  # [2, 5, 12, 12]
    for r in range(4):
        expected = per_pixel[image_index[r]][:, masks[r]].mean(dim=1)
        torch.testing.assert_close(pooled[r], expected)


def test_region_embeddings_reject_bad_inputs():
    dense = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="not a multiple of the dense map size 3x3"):
        region_embeddings(dense, torch.ones(1, 10, 10, dtype=torch.bool), torch.tensor([0]))
    with pytest.raises(ValueError, match="empty mask"):
        region_embeddings(dense, torch.zeros(1, 6, 6, dtype=torch.bool), torch.tensor([0]))


def test_region_alignment_loss_is_low_for_matching_text_and_high_otherwise():
    text = F.normalize(torch.eye(4, 8), dim=-1)
    labels = torch.tensor([0, 1, 2, 3])
    assert region_alignment_loss(text, text, labels, 100.0) < 1e-3
    wrong = region_alignment_loss(text.roll(1, dims=0), text, labels, 100.0)
    assert wrong == pytest.approx(100.0, rel=1e-3)  # cross-entropy -log(e^0 / (e^100 + 3))


def test_region_accuracies_break_down_seen_unseen_and_stuff():
    seen = ALL_CLASSES.index(class_by_name("red circle"))
    unseen = ALL_CLASSES.index(class_by_name("red square"))
    stuff = ALL_CLASSES.index(class_by_name("stripes"))
    labels = np.array([seen, seen, unseen, stuff, stuff])
    predictions = np.array([seen, unseen, unseen, stuff, seen])
    acc = region_accuracies(predictions, labels)
    assert acc == pytest.approx({"region": 60.0, "region_seen": 50.0, "region_unseen": 100.0, "region_stuff": 50.0})
    with pytest.raises(ValueError, match="must be equal"):
        region_accuracies(predictions[:2], labels)


def test_region_predictions_pool_then_classify():
    # a "dense map" that is the one-hot class of each pixel: pooled regions name their own class
    batch = sample_region_batch(seed=1, step=0, batch_size=3, image_size=16)
    num_classes = len(ALL_CLASSES)
    label_maps = np.zeros((3, 16, 16), dtype=np.int64)
    for mask, index, label in zip(batch.masks, batch.image_index, batch.labels):
        label_maps[index][mask] = label

    def dense_fn(_: torch.Tensor) -> torch.Tensor:
        return F.one_hot(torch.from_numpy(label_maps), num_classes).permute(0, 3, 1, 2).float()

    text = torch.eye(num_classes)
    predictions = region_predictions(dense_fn, lambda x: x, text, batch, lambda images: torch.zeros(len(images)))
    assert np.array_equal(predictions, batch.labels)
