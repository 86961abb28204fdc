"""Every extension point is a detectron2 Registry, listed in README's Extending table; gpa.registry.NamedRegistry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from detectron2.utils.registry import Registry

import gpa  # noqa: F401  (registration)
import gpa.data.mappers  # noqa: F401
from gpa.registry import NamedRegistry

REPO = Path(__file__).resolve().parents[1]


def _gpa_registries() -> dict[str, Registry]:
    found = {}
    for module_name, module in list(sys.modules.items()):
        if module_name == "gpa" or module_name.startswith("gpa."):
            for name, value in vars(module).items():
                if isinstance(value, Registry):
                    found[name] = value
    return found


def test_every_gpa_registry_is_in_the_readme_extending_table():
    registries = _gpa_registries()
    assert {"SPATIAL_MIXER_REGISTRY", "MAPPER_REGISTRY", "PROMPT_TEMPLATE_REGISTRY", "CLIP_ENCODER_REGISTRY",
            "MASK_CLASSIFIER_REGISTRY", "PIXEL_DECODER_REGISTRY", "TRANSFORMER_DECODER_REGISTRY"} <= set(registries)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Extending"):readme.index("## Layout")]
    for name, registry in registries.items():
        assert f"{name}`" in table, f"{name} is missing from README's Extending table"
        for entry, _ in registry:
            if entry.startswith("_"):  # private members registered by tests (tests/modeling/test_mask_classifier.py)
                continue
            if name not in {"META_ARCH_REGISTRY", "BACKBONE_REGISTRY", "SEM_SEG_HEADS_REGISTRY"}:  # detectron2's
                assert f"`{entry}`" in table, f"{name} member {entry} is missing from README's Extending table"


def test_every_gpa_config_key_has_a_comment():
    lines = (REPO / "gpa" / "config.py").read_text(encoding="utf-8").splitlines()
    keys = [i for i, line in enumerate(lines) if line.strip().startswith("cfg.") and " = " in line]
    assert len(keys) > 90
    for i in keys:
        if "CN()" not in lines[i]:
            assert "#" in lines[i] or lines[i - 1].strip().startswith("#"), f"gpa/config.py:{i + 1} has no comment"


def test_named_registry_registers_under_a_config_value_and_names_the_key():
    registry = NamedRegistry("TEST", "test thing")

    @registry.register_as("the_thing")
    class Thing:
        pass

    @registry.register()
    def other():
        return 1

    assert isinstance(registry, Registry) and registry.get("the_thing") is Thing and registry.names() == [
        "other", "the_thing"]
    assert registry.get_for("other", "SOME.KEY") is other
    with pytest.raises(ValueError, match=r"unknown test thing 'thing' \(SOME.KEY\); valid: other, the_thing"):
        registry.get_for("thing", "SOME.KEY")
    with pytest.raises(ValueError, match="test thing 'the_thing' is already registered"):
        registry.register_as("the_thing")(object)
