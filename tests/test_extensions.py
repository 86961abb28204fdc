"""gpa.extensions: a config's EXTENSIONS loads installed entry points of the group gpa.extensions, and nothing else;
the gpa:// weight sources are a registry the extensions fill."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gpa import extensions
from gpa.config_loading import ConfigError, load_config
from gpa.modeling.backbone import clip_model_loading as loading
from gpa.registry import NamedRegistry

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny" / "gpa_tiny.yaml"

# A module that leaves a file behind when it is imported, and counts the calls of its register function.
PROBE_MODULE = """
import os
from pathlib import Path

Path(os.environ["GPA_TEST_PROBE_DIR"], "imported-{module}").touch()
CALLS = []


def register():
    CALLS.append(1)
"""


@pytest.fixture
def no_extension_loaded(monkeypatch):
    """A fresh list of loaded extensions for one test (the process may have loaded the toy world already)."""
    monkeypatch.setattr(extensions, "_loaded", [])


def _install(site: Path, distribution: str, entry_points: dict[str, str]) -> None:
    """A distribution's metadata under `site` (a sys.path entry), declaring `entry_points` in gpa.extensions."""
    info = site / f"{distribution.replace('-', '_')}-0.1.dist-info"  # the folder's name up to "-" names it
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n", encoding="utf-8")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{extensions.ENTRY_POINT_GROUP}]\n{lines}", encoding="utf-8")


def _probe(site: Path, module: str) -> None:
    (site / f"{module}.py").write_text(PROBE_MODULE.format(module=module), encoding="utf-8")


def _config(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "with_extensions.yaml"
    path.write_text(f"_BASE_: {TINY}\nEXTENSIONS: {names}\n", encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path, monkeypatch):
    """An extra site folder on sys.path, and the folder where probe modules leave their marker files."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("GPA_TEST_PROBE_DIR", str(tmp_path))
    return folder


def test_a_config_loads_an_installed_extension_once(tmp_path, site, no_extension_loaded):
    _probe(site, "gpa_test_probe_ext")
    _install(site, "gpa-test-probe", {"probe": "gpa_test_probe_ext:register"})
    assert "probe" in extensions.installed_extensions()
    config = _config(tmp_path, ["probe"])
    cfg, _ = load_config(config)
    assert tuple(cfg.EXTENSIONS) == ("probe",) and extensions.loaded_extensions() == ["probe"]
    load_config(config)
    load_config(TINY, ["EXTENSIONS", "('probe',)"])
    assert extensions.load_extensions(["probe"]) == []
    assert sys.modules["gpa_test_probe_ext"].CALLS == [1]  # registered once however often it is named


def test_a_config_cannot_import_a_module_that_is_no_declared_extension(tmp_path, site, no_extension_loaded):
    """The name of any importable module (here one that would leave a file behind) is refused without importing it:
    only installed packages declaring themselves gpa extensions can be loaded."""
    _probe(site, "gpa_test_not_an_extension")
    with pytest.raises(ConfigError) as error:
        load_config(_config(tmp_path, ["gpa_test_not_an_extension"]))
    message = str(error.value)
    assert "EXTENSIONS names the extension 'gpa_test_not_an_extension', which is not installed" in message
    assert "installed gpa extensions:" in message and "'gpa.extensions'" in message
    assert "or remove it from EXTENSIONS" in message
    assert not (tmp_path / "imported-gpa_test_not_an_extension").exists()
    assert "gpa_test_not_an_extension" not in sys.modules
    for value in ("gpa_test_not_an_extension:register", "os:system"):
        with pytest.raises(ConfigError, match="which is not installed"):
            load_config(TINY, ["EXTENSIONS", f"('{value}',)"])


def test_extension_names_must_be_strings(no_extension_loaded):
    with pytest.raises(ConfigError, match=r"EXTENSIONS = \(1,\); valid: a list of extension names"):
        load_config(TINY, ["EXTENSIONS", "(1,)"])


def test_an_extension_declared_twice_or_broken_is_named(tmp_path, site, no_extension_loaded):
    _install(site, "gpa-test-one", {"twice": "gpa_test_one:register"})
    _install(site, "gpa-test-two", {"twice": "gpa_test_two:register"})
    with pytest.raises(ValueError, match=r"extension 'twice' \(EXTENSIONS\) is declared twice \(gpa_test_\w+:register "
                                         r"of gpa-test-\w+ 0.1 and gpa_test_\w+:register of .*uninstall one"):
        extensions.load_extensions(["twice"])
    _install(site, "gpa-test-broken", {"broken": "gpa_test_missing_module:register"})
    with pytest.raises(ImportError, match="extension 'broken' .EXTENSIONS. could not be imported from "
                                          "gpa_test_missing_module:register of gpa-test-broken 0.1"):
        extensions.load_extensions(["broken"])


def test_import_gpa_neither_imports_nor_registers_the_toy_world():
    code = ("import sys, gpa; from detectron2.data import DatasetCatalog; "
            "from gpa.modeling.backbone.clip_model_loading import CLIP_WEIGHT_SOURCES; "
            "print(sorted(m for m in sys.modules if m.startswith('gpa_toy')), "
            "[n for n in DatasetCatalog.list() if 'toy' in n], CLIP_WEIGHT_SOURCES.names())")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[] [] []"


# ------------------------------------------------------------------ gpa:// weight sources
@pytest.fixture
def weight_sources(monkeypatch):
    """An empty CLIP_WEIGHT_SOURCES for one test."""
    registry = NamedRegistry("CLIP_WEIGHT_SOURCES", "CLIP weight source")
    monkeypatch.setattr(loading, "CLIP_WEIGHT_SOURCES", registry)
    return registry


def test_a_registered_weight_source_resolves_to_its_file(weight_sources, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({}, path)
    weight_sources.register_as("mine")(loading.CLIPWeightSource("RN50", lambda: path))
    assert loading.resolve_pretrained("RN50", "gpa://mine") == loading.PretrainedSource("file", str(path))
    with pytest.raises(ValueError, match=r"gpa://mine holds weights of the open_clip model 'RN50', but "
                                         r"MODEL.CLIP.MODEL_NAME is 'ViT-B-32'; set MODEL.CLIP.MODEL_NAME RN50"):
        loading.resolve_pretrained("ViT-B-32", "gpa://mine")


def test_an_unknown_weight_source_names_the_key_the_registered_ones_and_the_fix(weight_sources):
    with pytest.raises(ValueError, match=r"unknown CLIP weight source 'gpa://toy_clip' \(MODEL.CLIP.PRETRAINED\); "
                                         r"registered: none\. .*add the extension that provides gpa://toy_clip to "
                                         r"EXTENSIONS \(installed extensions: "):
        loading.resolve_pretrained("RN50", "gpa://toy_clip")
    weight_sources.register_as("other")(loading.CLIPWeightSource("RN50", lambda: Path("x.pt")))
    with pytest.raises(ValueError, match="registered: gpa://other"):
        loading.resolve_pretrained("RN50", "gpa://nope")


def test_an_unregistered_dataset_points_to_the_extensions():
    from gpa.engine import check_dataset_names

    cfg, _ = load_config(TINY, ["DATASETS.TRAIN", "('gpa_toy_trian',)"])
    with pytest.raises(ValueError, match=r"DATASETS.TRAIN names 'gpa_toy_trian', which is not a registered dataset\. "
                                         r"gpa registers: .*gpa_toy_train.* The datasets of an extension are "
                                         r"registered when the config names it in EXTENSIONS \(loaded: .*toy.*; "
                                         r"installed: .*toy"):
        check_dataset_names(cfg)
