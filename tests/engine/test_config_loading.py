"""gpa.config_loading: configs read as plain YAML (nothing runs), `_BASE_` kept, every bad file or value named."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from detectron2.config import get_cfg

from gpa.config import add_gpa_config
from gpa.config_loading import ConfigError, load_config, read_config_file
from gpa.config_validation import CONFIG_RULES, check_device, validate_config

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "tiny" / "gpa_tiny.yaml"
SHIPPED = sorted((REPO / "configs").rglob("*.yaml"))


def malicious_yaml(marker: Path) -> str:
    """A config that, read with yaml.unsafe_load (detectron2's fallback), creates `marker`."""
    return (f"_BASE_: {TINY}\n"
            f"SOLVER: !!python/object/apply:builtins.open ['{marker}', 'w']\n")


def test_the_malicious_file_is_a_real_attack(tmp_path):
    """The catalogue's malicious YAML does run code under detectron2's own loader (so the tests below mean
    something), and does not under ours."""
    marker = tmp_path / "marker"
    yaml.unsafe_load(malicious_yaml(marker))
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "evil.yaml"
    path.write_text(malicious_yaml(marker), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evil.yaml, line 2, column \d+: the tag .*python/object/apply"):
        load_config(path)
    assert not marker.exists()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_every_shipped_config_loads_as_detectron2_loads_it(path):
    reference = get_cfg()
    add_gpa_config(reference)
    reference.merge_from_file(str(path))  # detectron2's loader on our own (trusted) files
    ours, name = load_config(path)
    assert ours == reference and name == str(path)


def test_base_inheritance_lists_and_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text("SOLVER:\n  MAX_ITER: 7\n  BASE_LR: 0.5\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("SOLVER:\n  MAX_ITER: 9\n", encoding="utf-8")
    (tmp_path / "sub" / "c.yaml").write_text("_BASE_: [../a.yaml, ../b.yaml]\nSOLVER:\n  IMS_PER_BATCH: 3\n",
                                            encoding="utf-8")
    assert read_config_file(tmp_path / "sub" / "c.yaml") == {"SOLVER": {"MAX_ITER": 9, "BASE_LR": 0.5,
                                                                        "IMS_PER_BATCH": 3}}


def test_a_dumped_config_reads_back_with_its_aliases(tmp_path):
    """detectron2 writes OUTPUT_DIR/config.yaml with yaml.dump, which shares equal lists through aliases."""
    cfg, _ = load_config(TINY)
    (tmp_path / "config.yaml").write_text(cfg.dump(), encoding="utf-8")
    assert "*id001" in cfg.dump()
    reference = get_cfg()
    add_gpa_config(reference)
    reference.merge_from_file(str(tmp_path / "config.yaml"))  # nested tuples come back as lists there too
    assert load_config(tmp_path / "config.yaml")[0] == reference


def test_a_removed_key_in_an_older_saved_config_is_ignored(tmp_path):
    (tmp_path / "old.yaml").write_text("DATASETS:\n  SEED_DATA_ORDER: true\n", encoding="utf-8")
    cfg, _ = load_config(tmp_path / "old.yaml", ["DATASETS.SEED_DATA_ORDER", "False"])
    assert "SEED_DATA_ORDER" not in cfg.DATASETS
    with pytest.raises(ConfigError, match="SEED_DATA_ORDE\\b"):
        load_config(TINY, ["DATASETS.SEED_DATA_ORDE", "False"])


def test_merge_keys_may_be_overridden(tmp_path):
    (tmp_path / "m.yaml").write_text("SOLVER:\n  <<: {MAX_ITER: 4, BASE_LR: 0.5}\n  MAX_ITER: 6\n", encoding="utf-8")
    assert read_config_file(tmp_path / "m.yaml") == {"SOLVER": {"MAX_ITER": 6, "BASE_LR": 0.5}}


def test_overrides_are_literals_and_win(tmp_path):
    cfg, _ = load_config(TINY, ["SOLVER.MAX_ITER", "3", "OUTPUT_DIR", tmp_path, "MODEL.WEIGHTS", "__import__('os')"])
    assert cfg.SOLVER.MAX_ITER == 3 and cfg.OUTPUT_DIR == str(tmp_path)
    assert cfg.MODEL.WEIGHTS == "__import__('os')"  # a string, never evaluated


# (file name, text, pattern the error must match besides the file's name); "{tiny}" is the tiny config's path
BAD_FILES = [
    ("empty.yaml", "", "is empty"),
    ("comments.yaml", "# nothing here\n", "is empty"),
    ("list.yaml", "- MODEL\n- SOLVER\n", "holds a list at its top level"),
    ("scalar.yaml", "42\n", "holds a int at its top level"),
    ("unknown_key.yaml", "_BASE_: {tiny}\nSOLVER:\n  MAX_ITERS: 5\n", "Non-existent config key: SOLVER.MAX_ITERS"),
    ("unknown_section.yaml", "MODLE:\n  DEVICE: cpu\n", "Non-existent config key: MODLE"),
    ("wrong_type.yaml", "_BASE_: {tiny}\nSOLVER:\n  MAX_ITER: many\n", "SOLVER.MAX_ITER"),
    ("duplicate.yaml", "_BASE_: {tiny}\nSOLVER:\n  MAX_ITER: 5\nSOLVER:\n  BASE_LR: 0.1\n",
     "line 4, .*'SOLVER' appears twice"),
    ("laughs.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "expands to more than 100000 values"),
    ("recursive.yaml", "a: &a [*a]\n", "expands to more than"),
    ("deep.yaml", "SEED: " + "[" * 50000 + "\n", "nests lists or mappings too deeply"),
    ("syntax.yaml", "SOLVER:\n  MAX_ITER: [1, 2\n", "line \\d+, column \\d+: not a valid config file"),
    ("tabs.yaml", "SOLVER:\n\tMAX_ITER: 1\n", "line 2, column \\d+: not a valid config file"),
    ("python_name.yaml", "SOLVER: !!python/name:os.system\n", "line 1, .*the tag .*python/name:os.system"),
    ("python_object.yaml", "SOLVER: !!python/object:collections.OrderedDict {{}}\n", "the tag .*python/object"),
    ("custom_tag.yaml", "SOLVER: !include other.yaml\n", "the tag !include is not allowed"),
    ("base_missing.yaml", "_BASE_: nowhere.yaml\n", "its _BASE_ .*nowhere.yaml does not exist"),
    ("base_not_path.yaml", "_BASE_: {{a: 1}}\n", "_BASE_ must be a path or a list of paths"),
    ("base_self.yaml", "_BASE_: base_self.yaml\n", "include each other in a cycle"),
    ("base_over_value.yaml", "_BASE_: {tiny}\nSEED:\n  A: 1\n", "SEED is a mapping here but a value in its _BASE_"),
    ("int_key.yaml", "1: 2\n", "key 1 under the top level is not a name"),
    ("version.yaml", "_BASE_: {tiny}\nVERSION: 1\n", "VERSION 1 is not supported"),
    ("latin1.yaml", b"# caf\xe9\nSOLVER:\n  MAX_ITER: 1\n", "is not UTF-8 text .*line 1"),
    ("range.yaml", "_BASE_: {tiny}\nSOLVER:\n  MAX_ITER: -5\n", "SOLVER.MAX_ITER = -5; valid: an integer >= 1"),
    ("two_docs.yaml", "SEED: 1\n---\nSEED: 2\n", "not a valid config file"),
]


@pytest.mark.parametrize("name, text, pattern", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_config_files_are_named(tmp_path, name, text, pattern):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text.format(tiny=TINY), encoding="utf-8")
    with pytest.raises((ConfigError, FileNotFoundError)) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert info.match(pattern)


def test_paths_that_are_not_config_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"config file {tmp_path / 'missing.yaml'} does not exist; the configs"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(IsADirectoryError, match=f"config file {tmp_path} is a folder"):
        load_config(tmp_path)
    with pytest.raises(ValueError, match="config file /dev/zero is not a regular file"):
        load_config("/dev/zero")  # would never end if read
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="big.yaml is .* bytes, over the"):
        load_config(big)


@pytest.mark.parametrize("opts, pattern", [
    (["SOLVER.MAX_ITER"], "KEY VALUE pairs, got an odd number"),
    (["SOLVER.MAX_ITERS", "5"], "config override: Non-existent key: SOLVER.MAX_ITERS"),
    (["SOLVER.MAX_ITER", "five"], "config override: .*SOLVER.MAX_ITER"),
    (["_BASE_", "x.yaml"], "_BASE_ can only be used inside config files"),
    (["SOLVER.CHECKPOINT_PERIOD", "0"], "SOLVER.CHECKPOINT_PERIOD = 0; valid: an integer >= 1"),
])
def test_bad_overrides_are_named(opts, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(TINY, opts)


# key, a value outside its range (as an override string), a value inside it
BAD_VALUES = [
    ("SOLVER.MAX_ITER", "-5", "1"),
    ("SOLVER.MAX_ITER", "0", "1"),
    ("SOLVER.CHECKPOINT_PERIOD", "0", "1"),
    ("SOLVER.IMS_PER_BATCH", "0", "1"),
    ("SOLVER.LOG_PERIOD", "0", "1"),
    ("SOLVER.BASE_LR", "0.0", "1e-05"),
    ("SOLVER.BASE_LR", "1e999", "1e-05"),  # inf
    ("SOLVER.MOMENTUM", "1.0", "0.0"),
    ("SOLVER.WEIGHT_DECAY", "-0.1", "0.0"),
    ("SOLVER.WARMUP_FACTOR", "0.0", "1.0"),
    ("SOLVER.STEPS", "(0, 10)", "(5, 10)"),
    ("SOLVER.AMP.DTYPE", "'float8'", "'bfloat16'"),
    ("SOLVER.CLIP_GRADIENTS.CLIP_VALUE", "0.0", "1.0"),
    ("SOLVER.CLIP_GRADIENTS.NORM_TYPE", "0.0", "1e999"),  # inf: the max norm
    ("TEST.EVAL_PERIOD", "-1", "0"),
    ("DATALOADER.NUM_WORKERS", "-1", "0"),
    ("INPUT.IMAGE_SIZE", "0", "32"),
    ("INPUT.MIN_SCALE", "0.0", "0.1"),
    ("INPUT.MIN_SIZE_TEST", "0", "32"),
    ("INPUT.FORMAT", "'YUV'", "'BGR'"),
    ("INPUT.RANDOM_FLIP", "'diagonal'", "'none'"),
    ("MODEL.DEVICE", "'tpu'", "'cpu'"),
    ("MODEL.DEVICE", "'gpu'", "'cuda:1'"),
    ("MODEL.PIXEL_STD", "[0.0, 1.0, 1.0]", "[1.0, 1.0, 1.0]"),
    ("MODEL.CLIP.TEXT_CHUNK_SIZE", "0", "1"),
    ("MODEL.ADAPTER.RANK", "0", "1"),
    ("MODEL.ADAPTER.STAGES", "(0, 4)", "(3,)"),
    ("MODEL.ADAPTER.EVERY_K_BLOCKS", "0", "2"),
    ("MODEL.SEM_SEG_HEAD.COMMON_STRIDE", "3", "8"),
    ("MODEL.MASK_FORMER.NUM_OBJECT_QUERIES", "0", "1"),
    ("MODEL.MASK_FORMER.DEC_LAYERS", "0", "1"),
    ("MODEL.MASK_FORMER.DROPOUT", "1.0", "0.5"),
    ("MODEL.MASK_FORMER.TRAIN_NUM_POINTS", "0", "1"),
    ("MODEL.MASK_FORMER.OVERSAMPLE_RATIO", "0.5", "1.0"),
    ("MODEL.MASK_FORMER.IMPORTANCE_SAMPLE_RATIO", "1.5", "1.0"),
    ("MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD", "1.5", "1.0"),
    ("MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD", "-0.1", "0.0"),
    ("MODEL.MASK_FORMER.TEST.DETECTIONS_PER_IMAGE", "0", "1"),
    ("MODEL.GPA.CFA.NUM_MAPS", "0", "1"),
    ("MODEL.GPA.CFA.MASK_BIAS_EPS", "0.0", "1e-06"),
    ("MODEL.GPA.ENSEMBLE_ALPHA", "1.2", "1.0"),
    ("MODEL.GPA.ENSEMBLE_BETA", "-0.2", "0.0"),
    ("MODEL.GPA.IN_VOCAB_LOGIT_SCALE_MAX", "0.0", "1.0"),
]


@pytest.mark.parametrize("key, bad, good", BAD_VALUES, ids=[f"{k}={b}" for k, b, _ in BAD_VALUES])
def test_out_of_range_values_name_the_key_and_the_range(key, bad, good):
    load_config(TINY, [key, good])  # the boundary of the range is accepted
    with pytest.raises(ConfigError) as info:
        load_config(TINY, [key, bad])
    message = str(info.value)
    assert str(TINY) in message and f"{key} = " in message
    rule = next(r for r in CONFIG_RULES if r.key == key)
    assert f"valid: {rule.valid}" in message


# gpa's numeric keys whose every value is meaningful (no range to check)
UNBOUNDED_GPA_KEYS: set[str] = set()


def _numeric_keys(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _numeric_keys(value, f"{prefix}{key}.")
        elif isinstance(value, int | float | tuple | list) and not isinstance(value, bool):
            if not isinstance(value, tuple | list) or (value and all(isinstance(v, int | float) for v in value)):
                yield f"{prefix}{key}"


def test_every_numeric_gpa_key_has_a_rule():
    """A key added to gpa/config.py with a numeric value needs a range in CONFIG_RULES (or a reason not to)."""
    detectron2_keys = set(_numeric_keys(get_cfg()))
    cfg = get_cfg()
    add_gpa_config(cfg)
    ruled = {rule.key for rule in CONFIG_RULES}
    unruled = sorted(set(_numeric_keys(cfg)) - detectron2_keys - ruled - UNBOUNDED_GPA_KEYS)
    assert not unruled, f"gpa keys without a range rule: {unruled}"




def test_every_rule_names_a_real_key():
    cfg, _ = load_config(TINY)
    for rule in CONFIG_RULES:
        node, present = cfg, True
        for part in rule.key.split("."):
            present = present and isinstance(node, dict) and part in node
            node = node[part] if present else None
        if not present:
            raise AssertionError(f"{rule.key} is not a config key")
        assert rule.check(node), f"the default of {rule.key} ({node!r}) breaks its own rule"


@pytest.mark.parametrize("opts, pattern", [
    (["INPUT.MIN_SCALE", "2.0", "INPUT.MAX_SCALE", "1.0"], r"INPUT.MIN_SCALE \(2.0\) must be <= INPUT.MAX_SCALE"),
    (["INPUT.MIN_SIZE_TEST", "200", "INPUT.MAX_SIZE_TEST", "100"], "MIN_SIZE_TEST .* <= INPUT.MAX_SIZE_TEST"),
    (["MODEL.MASK_FORMER.HIDDEN_DIM", "66"], "HIDDEN_DIM .66. must be a multiple of MODEL.MASK_FORMER.NHEADS"),
    (["MODEL.SEM_SEG_HEAD.CONVS_DIM", "66"], "CONVS_DIM .66. must be a multiple of"),
    (["MODEL.PIXEL_MEAN", "[1.0, 2.0]"], "one value per RGB channel"),
])
def test_keys_checked_together(opts, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(TINY, opts)


def test_short_runs_of_a_config_with_warmup_are_allowed():
    """A debugging run shorter than the warmup (the toy main job's GPA_MAIN_ITERS=4) is legitimate."""
    cfg, _ = load_config(REPO / "configs" / "toy" / "gpa.yaml", ["SOLVER.MAX_ITER", "4"])
    assert cfg.SOLVER.WARMUP_ITERS > cfg.SOLVER.MAX_ITER


def test_several_problems_are_listed_at_once():
    with pytest.raises(ConfigError, match="SOLVER.MAX_ITER = 0.*SOLVER.IMS_PER_BATCH = 0"):
        load_config(TINY, ["SOLVER.MAX_ITER", "0", "SOLVER.IMS_PER_BATCH", "0"])


def test_a_config_node_is_validated_too():
    cfg, _ = load_config(TINY)
    cfg.SOLVER.MAX_ITER = 0
    with pytest.raises(ConfigError, match="the given config: .*SOLVER.MAX_ITER = 0"):
        load_config(cfg)
    with pytest.raises(ValueError, match="SOLVER.MAX_ITER"):
        validate_config(cfg)


def test_device_availability(monkeypatch):
    import gpa.config_validation as validation

    assert check_device("cpu") == "cpu"
    monkeypatch.setitem(validation.DEVICE_KINDS, "cuda", lambda: False)
    with pytest.raises(ValueError, match=r"device 'cuda' was asked for \(MODEL.DEVICE of x.yaml\) but is not "
                                         "available here .*MODEL.DEVICE cpu"):
        check_device("cuda", "MODEL.DEVICE of x.yaml")
    with pytest.raises(ValueError, match="device 'meta' is not supported"):
        check_device("meta")
    monkeypatch.setitem(validation.DEVICE_KINDS, "cuda", lambda: True)
    monkeypatch.setattr(validation.torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match=r"device 'cuda:2' \(MODEL.DEVICE\) does not exist: torch sees 2 GPU"):
        check_device("cuda:2")
