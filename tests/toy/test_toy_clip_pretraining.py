"""Tiny-CLIP pretraining on the toy world: captions, the multi-positive loss, zero-shot scoring, the script."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F

from gpa_toy import pretrained_clip
from gpa_toy.captions import sample_captioned_batch, single_object_images, texture_images
from gpa_toy.contrastive_loss import caption_group_ids, multi_positive_contrastive_loss
from gpa_toy.world import STUFF_CLASSES, THING_CLASSES, UNSEEN_THINGS, class_by_name
from gpa_toy.zero_shot import images_to_tensor, object_accuracies, zero_shot_predictions

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "gpa_toy" / "tools" / "pretrain_toy_clip.py"
TINY_CLIP = {  # a few-thousand-parameter CLIP so the script runs in seconds
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8, "pool_type": "avg"},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


def _script_module():
    spec = importlib.util.spec_from_file_location("pretrain_toy_clip", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------- loss
def test_caption_group_ids_number_identical_captions_alike():
    assert caption_group_ids(["a", "b", "a", "c", "b"]).tolist() == [0, 1, 0, 2, 1]


def test_loss_with_duplicate_captions_matches_hand_computation():
    # Captions "x", "x", "y"; orthonormal features and scale 1 make the logits the identity matrix.
    # Rows 0 and 1 target (1/2, 1/2, 0): loss log(e + 2) - 1/2; row 2 targets (0, 0, 1): log(e + 2) - 1.
    # Both directions are equal (symmetric logits), so the loss is log(e + 2) - 2/3.
    eye = torch.eye(3)
    loss = multi_positive_contrastive_loss(eye, eye, 1.0, caption_group_ids(["x", "x", "y"]))
    assert loss.item() == pytest.approx(math.log(math.e + 2) - 2 / 3, abs=1e-6)


def test_loss_with_distinct_captions_is_open_clips_loss():
    torch.manual_seed(0)
    image = F.normalize(torch.randn(6, 8), dim=1)
    text = F.normalize(torch.randn(6, 8), dim=1)
    scale = torch.tensor(7.0)
    reference = open_clip.loss.ClipLoss()(image, text, scale)
    assert multi_positive_contrastive_loss(image, text, scale, torch.arange(6)).item() == pytest.approx(
        reference.item(), rel=1e-6
    )


def test_loss_matches_a_loop_reference_on_random_groups():
    torch.manual_seed(1)
    image = F.normalize(torch.randn(5, 4), dim=1)
    text = F.normalize(torch.randn(5, 4), dim=1)
    groups = [0, 1, 0, 2, 1]
    logits = (3.0 * image @ text.T).tolist()
    total = 0.0
    for direction in (logits, [list(col) for col in zip(*logits)]):
        for i, row in enumerate(direction):
            log_norm = math.log(sum(math.exp(v) for v in row))
            positives = [j for j in range(5) if groups[j] == groups[i]]
            total += -sum(row[j] - log_norm for j in positives) / len(positives) / 5
    loss = multi_positive_contrastive_loss(image, text, 3.0, torch.tensor(groups))
    assert loss.item() == pytest.approx(total / 2, rel=1e-5)


def test_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="group_ids"):
        multi_positive_contrastive_loss(torch.eye(3), torch.eye(3), 1.0, torch.arange(2))
    with pytest.raises(ValueError, match="\\[N, D\\]"):
        multi_positive_contrastive_loss(torch.eye(3), torch.eye(2), 1.0, torch.arange(3))


# ---------------------------------------------------------------------------------------------- data
def test_caption_batches_are_deterministic_and_cover_all_combinations():
    images, captions = sample_captioned_batch(seed=0, step=4, batch_size=8, image_size=32)
    again, captions_again = sample_captioned_batch(seed=0, step=4, batch_size=8, image_size=32)
    other, _ = sample_captioned_batch(seed=0, step=5, batch_size=8, image_size=32)
    assert images.shape == (8, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, again) and captions == captions_again and not np.array_equal(images, other)

    _, many = sample_captioned_batch(seed=1, step=0, batch_size=1200, image_size=32)
    text = "\n".join(many)
    for c in (*THING_CLASSES, *STUFF_CLASSES):  # unseen combinations too: this is the "web" data
        assert f" {c.name}" in text or text.startswith(c.name), c.name
    assert all(u.name in text for u in UNSEEN_THINGS)


def test_single_object_images_show_the_labelled_class():
    images, labels = single_object_images(per_class=2, image_size=32, seed=7)
    assert images.shape == (128, 32, 32, 3) and np.bincount(labels).tolist() == [2] * 64
    for image, label in zip(images[:64], labels[:64]):  # the labelled colour is on the image
        rgb = np.array(THING_CLASSES[label].colour.rgb)
        assert (np.abs(image.astype(int) - rgb).max(axis=-1) < 30).sum() > 20, THING_CLASSES[label].name
    assert np.array_equal(single_object_images(1, 32, 7)[0], single_object_images(1, 32, 7)[0])
    texture, texture_labels = texture_images(per_class=3, image_size=32, seed=7)
    assert texture.shape == (12, 32, 32, 3) and np.bincount(texture_labels).tolist() == [3] * 4


# ---------------------------------------------------------------------------------------------- zero-shot
def test_object_accuracies_break_down_colour_shape_and_unseen():
    red_circle, red_star, blue_star, red_heart = (  # red heart is unseen
        THING_CLASSES.index(class_by_name(n)) for n in ("red circle", "red star", "blue star", "red heart")
    )
    labels = np.array([red_circle, red_star, blue_star, red_heart])
    predictions = np.array([red_circle, blue_star, red_star, red_heart])
    acc = object_accuracies(predictions, labels)
    assert acc == pytest.approx({"all": 50.0, "colour": 50.0, "shape": 100.0, "seen": 100 / 3, "unseen": 100.0})


class _OracleClip(torch.nn.Module):
    """Text i embeds as one-hot i; an image embeds as one-hot of the class index written in its first pixel."""

    def encode_text(self, tokens, normalize=True):
        return F.one_hot(tokens, 64).float()

    def encode_image(self, x, normalize=True):
        index = torch.from_numpy(np.rint(self.pixel_to_index(x[:, 0, 0, 0])).astype(np.int64))
        return F.one_hot(index, 64).float()

    @staticmethod
    def pixel_to_index(value):
        mean, std = 0.48145466, 0.26862954
        return (value.float().numpy() * std + mean) * 255


def test_zero_shot_predictions_pick_the_best_matching_prompt():
    images = np.zeros((5, 8, 8, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = [3, 0, 63, 10, 10]
    prompts = []

    def tokenizer(texts):
        prompts.extend(texts)
        return torch.arange(len(texts))

    names = [c.name for c in THING_CLASSES]
    predictions = zero_shot_predictions(_OracleClip(), tokenizer, images, names, batch_size=2, autocast_dtype=None)
    assert predictions.tolist() == [3, 0, 63, 10, 10]
    assert prompts[0] == "a photo of a red circle."


def test_images_to_tensor_normalizes_with_clip_statistics():
    images = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
    x = images_to_tensor(images)
    assert x.shape == (1, 3, 2, 2)
    assert x[0, 0, 0, 0].item() == pytest.approx((1 - 0.48145466) / 0.26862954, rel=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        images_to_tensor(images.astype(np.float32))


# ---------------------------------------------------------------------------------------------- the script
def test_learning_rate_warms_up_then_follows_a_cosine():
    script = _script_module()
    assert script.learning_rate(1.0, 0, 4, 0.0) == pytest.approx(0.25)
    assert script.learning_rate(1.0, 3, 4, 0.0) == pytest.approx(1.0)
    assert script.learning_rate(1.0, 10, 4, 0.5) == pytest.approx(0.5)
    assert script.learning_rate(1.0, 20, 4, 1.0) == pytest.approx(0.0)
    budget = script.Budget(steps=10, minutes=None)
    assert budget.progress(5, 1e6) == 0.5 and budget.done(10, 0) and not budget.done(9, 1e6)
    timed = script.Budget(steps=None, minutes=1.0)
    assert timed.progress(1000, 30.0) == 0.5 and timed.done(0, 60.0)


def test_script_arguments_are_checked(capsys):
    script = _script_module()
    for argv, message in (
        (["--steps", "3"], "--output"),
        (["--output", "x.pt"], "--steps N and/or --minutes M"),
        (["--eval-only"], "--checkpoint"),
        (["--output", "x.pt", "--steps", "0"], "--steps must be positive"),
        (["--output", "x.pt", "--steps", "3", "--init", "missing.pt"], "--init missing.pt does not exist"),
        (["--eval-only", "--checkpoint", __file__, "--init", __file__], "--init starts training"),
        (["--output", "x.pt", "--steps", "3", "--region-batch-size", "-1"], "--region-batch-size must be 0 (off)"),
        (["--output", "x.pt", "--steps", "3", "--region-image-size", "0"], "--region-image-size must be positive"),
        (["--output", "x.pt", "--steps", "3", "--region-weight", "0"], "--region-batch-size 0 turns the region loss"),
    ):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
        assert message in capsys.readouterr().err


def _run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=REPO.parent)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_short_pretraining_run_saves_a_loadable_fp16_checkpoint(tmp_path):
    config = tmp_path / "toy_test_clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    common = ["--model", "toy_test_clip", "--model-config", str(config), "--batch-size", "8", "--warmup-steps", "1",
              "--threads", "1", "--eval-per-class", "1", "--log-every", "1", "--eval-every", "2",
              "--eval-scenes", "4", "--region-image-size", "32"]
    _run_script(*common, "--steps", "3", "--output", str(tmp_path / "a.pt"))
    log = (tmp_path / "a.log").read_text()
    assert [line.split()[1] for line in log.splitlines() if line.startswith("step ")] == ["1", "2", "3"]
    assert "eval step 2 zero-shot accuracy" in log and "zero-shot accuracy on held-out images" in log
    assert "(region " not in log and " region_unseen " in log  # region accuracy is measured, its loss is off

    state = torch.load(tmp_path / "a.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    open_clip.add_model_config(config)
    model = open_clip.create_model("toy_test_clip", pretrained=str(tmp_path / "a.pt"))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value.half(), state[key])

    proc = _run_script(*common, "--eval-only", "--checkpoint", str(tmp_path / "a.pt"))
    final = [line for line in log.splitlines() if line.startswith("zero-shot accuracy")]
    assert final and final[0] in proc.stdout  # the same numbers from the saved checkpoint

    _run_script(*common, "--steps", "3", "--output", str(tmp_path / "b.pt"))  # same seed: same weights
    again = torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(state[key], again[key]) for key in state)

    # --init continues from the saved weights: at learning rate 0 they come back unchanged
    _run_script(*common, "--steps", "1", "--lr", "0", "--init", str(tmp_path / "a.pt"), "--output",
                str(tmp_path / "c.pt"))
    continued = torch.load(tmp_path / "c.pt", weights_only=True)
    assert all(torch.equal(state[key], continued[key]) for key in state)
    assert f"initialized from {tmp_path / 'a.pt'}" in (tmp_path / "c.log").read_text()

    # the region alignment loss is added and changes the weights
    _run_script(*common, "--steps", "3", "--region-batch-size", "2", "--output", str(tmp_path / "d.pt"))
    steps = [line for line in (tmp_path / "d.log").read_text().splitlines() if line.startswith("step ")]
    assert len(steps) == 3 and all("(region " in line for line in steps)
    regional = torch.load(tmp_path / "d.pt", weights_only=True)
    assert any(not torch.equal(state[key], regional[key]) for key in state)


def test_missing_shipped_checkpoint_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained_clip, "TOY_CLIP_CHECKPOINT", tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError, match="gpa_toy/tools/pretrain_toy_clip.py --steps"):
        pretrained_clip.toy_clip_checkpoint()
    (tmp_path / "none.pt").write_bytes(b"")
    assert pretrained_clip.toy_clip_checkpoint() == tmp_path / "none.pt"
