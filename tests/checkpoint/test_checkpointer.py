"""GPACheckpointer: which keys may be missing, lean checkpoints, known foreign buffers, resume over broken files."""

from __future__ import annotations

import pytest
import torch
from detectron2.modeling import build_model

from gpa.checkpoint import LEAN_RECORD_KEY, GPACheckpointer, pretrained_clip_keys
from gpa.engine import build_config
from tests.inference.helpers import TINY_CONFIG, build_tiny_model, save_checkpoint

CLIP_PREFIX = "backbone.clip_model."


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """The tiny model's CLIP weights as an open_clip checkpoint (what MODEL.CLIP.PRETRAINED may name)."""
    model = build_tiny_model()
    frozen = pretrained_clip_keys(model)
    state = {k[len(CLIP_PREFIX):].replace(".block.", "."): v for k, v in model.state_dict().items() if k in frozen}
    path = tmp_path_factory.mktemp("clip") / "tiny_clip.pt"
    torch.save(state, path)
    return path


def _tiny(opts=(), seed=0):
    torch.manual_seed(seed)
    cfg = build_config(TINY_CONFIG, list(opts))
    return cfg, build_model(cfg)


def test_lean_checkpoint_leaves_out_frozen_clip_and_loads_back(tmp_path, clip_file):
    opts = ["MODEL.CLIP.PRETRAINED", str(clip_file)]
    cfg, model = _tiny(opts)
    with torch.no_grad():
        for _, p in model.trainable_parameter_groups()["adapter"]:
            p.add_(0.1)
    lean = GPACheckpointer.from_config(cfg, model, str(tmp_path / "lean"))
    assert lean.lean
    lean.save("model_final")
    saved = _state(tmp_path / "lean" / "model_final.pth")
    frozen = pretrained_clip_keys(model)
    assert frozen and not frozen & saved["model"].keys()
    assert set(saved["model"]) == set(model.state_dict()) - frozen
    assert saved[LEAN_RECORD_KEY]["clip_pretrained"] == str(clip_file)

    full_cfg, _ = _tiny([*opts, "SOLVER.LEAN_CHECKPOINTS", "False"])
    GPACheckpointer.from_config(full_cfg, model, str(tmp_path / "full")).save("model_final")
    lean_size = (tmp_path / "lean" / "model_final.pth").stat().st_size
    full_size = (tmp_path / "full" / "model_final.pth").stat().st_size
    assert lean_size < full_size

    for folder in ("lean", "full"):  # both load into a fresh model and give back the same weights
        _, fresh = _tiny(opts, seed=1)
        GPACheckpointer.from_config(cfg, fresh).resume_or_load(str(tmp_path / folder / "model_final.pth"),
                                                               resume=False)
        assert _same_weights(fresh, model)


def test_lean_checkpoint_needs_the_same_clip_source(tmp_path, clip_file):
    cfg, model = _tiny(["MODEL.CLIP.PRETRAINED", str(clip_file)])
    GPACheckpointer.from_config(cfg, model, str(tmp_path)).save("model_final")
    other = tmp_path / "other_clip.pt"
    other.write_bytes(clip_file.read_bytes())
    cfg2, model2 = _tiny(["MODEL.CLIP.PRETRAINED", str(other)])
    with pytest.raises(ValueError, match=f"leaves out the frozen CLIP weights, which come from MODEL.CLIP.PRETRAINED "
                                         f"'{clip_file}'.*set MODEL.CLIP.PRETRAINED"):
        GPACheckpointer.from_config(cfg2, model2).resume_or_load(str(tmp_path / "model_final.pth"), resume=False)
    cfg3, model3 = _tiny()  # PRETRAINED "": the frozen weights could not come back
    with pytest.raises(ValueError, match="leaves out the frozen CLIP weights"):
        GPACheckpointer.from_config(cfg3, model3).resume_or_load(str(tmp_path / "model_final.pth"), resume=False)


def test_lean_is_off_without_pretrained_weights(tmp_path):
    cfg, model = _tiny()
    checkpointer = GPACheckpointer.from_config(cfg, model, str(tmp_path))
    assert not checkpointer.lean
    checkpointer.save("m")
    assert set(_state(tmp_path / "m.pth")["model"]) == set(model.state_dict())
    with pytest.raises(ValueError, match="needs MODEL.CLIP.PRETRAINED"):
        GPACheckpointer(model, lean=True)


def test_foreign_training_buffers_are_skipped_and_named(tmp_path, tiny_weights, checkpoint_log):
    state = _state(tiny_weights)
    state["model"]["criterion.empty_weight"] = torch.ones(5)  # every Mask2Former / FC-CLIP checkpoint has it
    torch.save(state, tmp_path / "fcclip_like.pth")
    cfg, model = _tiny()
    GPACheckpointer.from_config(cfg, model).resume_or_load(str(tmp_path / "fcclip_like.pth"), resume=False)
    assert "criterion.empty_weight" in checkpoint_log.text
    state["model"]["criterion.other_buffer"] = torch.ones(5)
    torch.save(state, tmp_path / "more.pth")
    with pytest.raises(ValueError, match="unexpected keys .*criterion.other_buffer"):
        GPACheckpointer.from_config(cfg, model).resume_or_load(str(tmp_path / "more.pth"), resume=False)


def test_new_keys_may_be_missing_from_model_weights_only(tmp_path, tiny_weights, checkpoint_log):
    state = _state(tiny_weights)
    state["model"] = {k: v for k, v in state["model"].items() if ".adapter." not in k}
    torch.save(state, tmp_path / "no_adapters.pth")
    cfg, model = _tiny()
    with pytest.raises(ValueError, match="missing keys .*adapter"):
        GPACheckpointer.from_config(cfg, model).resume_or_load(str(tmp_path / "no_adapters.pth"), resume=False)

    cfg, model = _tiny(["MODEL.WEIGHTS_NEW_KEYS", '("*.adapter.*",)'])
    GPACheckpointer.from_config(cfg, model).resume_or_load(str(tmp_path / "no_adapters.pth"), resume=False)
    assert "Newly initialized (MODEL.WEIGHTS_NEW_KEYS" in checkpoint_log.text and ".adapter." in checkpoint_log.text

    resume_dir = tmp_path / "run"  # resuming needs every key: a run's own checkpoint is never partial
    resume_dir.mkdir()
    torch.save(state, resume_dir / "model_0000009.pth")
    (resume_dir / "last_checkpoint").write_text("model_0000009.pth")
    with pytest.raises(ValueError, match="missing keys .*adapter"):
        GPACheckpointer.from_config(cfg, model, str(resume_dir)).resume_or_load("", resume=True)

    with pytest.raises(ValueError, match="MODEL.WEIGHTS_NEW_KEYS pattern 'cfa_heads.*' matches no key"):
        _, other = _tiny()
        GPACheckpointer(other, new_keys=["cfa_heads.*"])


def test_resume_skips_broken_checkpoints_and_says_which(tmp_path, checkpoint_log):
    cfg, model = _tiny()
    out = tmp_path / "run"
    checkpointer = GPACheckpointer.from_config(cfg, model, str(out))
    checkpointer.save("model_0000001", iteration=1)
    good = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    checkpointer.save("model_final", iteration=3)
    final = out / "model_final.pth"
    final.write_bytes(final.read_bytes()[:1000])  # what a kill during a non-atomic write left behind

    _, fresh = _tiny(seed=2)
    resumer = GPACheckpointer.from_config(cfg, fresh, str(out))
    extra = resumer.resume_or_load("", resume=True)
    assert resumer.resumed_from == str(out / "model_0000001.pth") and extra["iteration"] == 1
    assert all(torch.equal(v, good[k]) for k, v in fresh.state_dict().items())
    assert f"skipping {final}" in checkpoint_log.text and "truncated or corrupt" in checkpoint_log.text

    (out / "last_checkpoint").write_text("")  # an interrupted rewrite of last_checkpoint
    resumer = GPACheckpointer.from_config(cfg, fresh, str(out))
    resumer.resume_or_load("", resume=True)
    assert resumer.resumed_from == str(out / "model_0000001.pth")
    assert "last_checkpoint is empty" in checkpoint_log.text


def test_non_finite_weights_are_never_saved(tmp_path):
    cfg, model = _tiny()
    with torch.no_grad():
        model.sem_seg_head.predictor.query_feat.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="not saving checkpoint m.*query_feat.*lower SOLVER.BASE_LR"):
        GPACheckpointer.from_config(cfg, model, str(tmp_path)).save("m")
    assert not list(tmp_path.iterdir())


def test_model_zoo_pickle_with_exact_names_loads(tmp_path):
    import pickle

    model = build_tiny_model()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    with open(tmp_path / "zoo.pkl", "wb") as f:
        pickle.dump({"model": state, "__author__": "someone", "matching_heuristics": True}, f)
    cfg, fresh = _tiny(seed=3)
    GPACheckpointer.from_config(cfg, fresh).resume_or_load(str(tmp_path / "zoo.pkl"), resume=False)
    assert _same_weights(fresh, model)


def test_save_checkpoint_helper_still_writes_loadable_files(tmp_path):
    model = build_tiny_model()
    path = save_checkpoint(model, tmp_path)
    cfg, fresh = _tiny(seed=4)
    GPACheckpointer.from_config(cfg, fresh).resume_or_load(str(path), resume=False)
    assert _same_weights(fresh, model)


def test_training_init_from_another_adapter_rank_is_an_error(tmp_path, tiny_weights):
    cfg, model = _tiny(["MODEL.ADAPTER.RANK", "4", "OUTPUT_DIR", str(tmp_path)])
    with pytest.raises(ValueError, match=f"checkpoint {tiny_weights} does not match.*shape mismatches: .*adapter"):
        GPACheckpointer.from_config(cfg, model, cfg.OUTPUT_DIR).resume_or_load(str(tiny_weights), resume=False)
