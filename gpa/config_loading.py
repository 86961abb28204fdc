"""The one way gpa reads a config: plain YAML (nothing in a file runs), `_BASE_` inheritance, overrides, checks.

detectron2's `merge_from_file` falls back to `yaml.unsafe_load`, so a `!!python/object/apply` tag in a
downloaded config runs code. Here a file is parsed with PyYAML's safe constructor only; Python tags and
duplicate keys (where YAML silently keeps the last) are errors naming the file and line, and aliases may not
expand a small file into a huge config. `_BASE_` works as in detectron2/fvcore: a path or a list of paths,
relative to the file naming it, children overriding their bases key by key.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from detectron2.config import CfgNode, get_cfg

from .config import add_gpa_config
from .config_validation import validate_config
from .extensions import CONFIG_KEY as EXTENSIONS_KEY
from .extensions import load_extensions
from .files import read_json, read_text

__all__ = ["BASE_KEY", "ConfigError", "load_config", "merge_config_file", "merge_overrides", "read_config_file"]

BASE_KEY = "_BASE_"
MAX_CONFIG_BYTES = 1 << 20  # configs are a few KiB; a bigger file is not a config
MAX_CONFIG_VALUES = 100_000  # values of a config with aliases expanded; a real config has a few hundred
CONFIG_HINT = "gpa's keys are listed in gpa/config.py, detectron2's in detectron2/config/defaults.py"


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the file or key and the fix."""


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _PlainConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader (no Python tags) that also refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`; its keys may be overridden here
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                continue
            if first is not None:
                raise _DuplicateKey(problem=f"key {key!r} appears twice (first on line {first}); YAML would silently "
                                            "keep only the last one, so merge them into one",
                                    problem_mark=key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _yaml_error(path: Path, err: yaml.YAMLError) -> ConfigError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(path)
    problem = getattr(err, "problem", None) or str(err)
    if isinstance(err, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
        tag = problem.split("tag", 1)[1].strip().strip("'")
        return ConfigError(f"{where}: the tag {tag} is not allowed: gpa reads config files as plain YAML (no Python "
                           "objects), so nothing in them can run; remove the tag and write the plain value")
    return ConfigError(f"{where}: not a valid config file: {problem}")


def _parse(path: Path) -> dict[str, Any]:
    if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is {path.stat().st_size} bytes, over the {MAX_CONFIG_BYTES} a config "
                          "can be; is it a config file?")
    try:
        text = read_text(path, "config file")
    except (FileNotFoundError, IsADirectoryError) as err:
        raise type(err)(f"{err}; the configs are under configs/") from None
    except ValueError as err:
        raise ConfigError(str(err)) from None
    try:
        data = yaml.load(text, Loader=_PlainConfigLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise _yaml_error(path, err) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"config file {path} nests lists or mappings too deeply to be a config") from None
    _check_expanded_size(data, path)
    if data is None:
        raise ConfigError(f"config file {path} is empty (or only comments); a config is a mapping such as "
                          "'MODEL:\\n  WEIGHTS: ...' or '_BASE_: ../Base-GPA.yaml'")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} holds a {type(data).__name__} at its top level; a config is a mapping "
                          "of keys (MODEL:, SOLVER:, ...)")
    _check_keys(data, path, [])
    return data


def _check_expanded_size(data: Any, path: Path) -> None:
    """Refuse a file whose aliases expand into a huge (or endlessly recursive) config ("billion laughs")."""
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(f"config file {path} expands to more than {MAX_CONFIG_VALUES} values (through YAML "
                              "aliases *name); a config is far smaller, so this file is refused")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _check_keys(data: dict, path: Path, prefix: list[str]) -> None:
    for key, value in data.items():
        if not isinstance(key, str):
            raise ConfigError(f"config file {path}: key {key!r} under {'.'.join(prefix) or 'the top level'} is not a "
                              "name; config keys are words such as SOLVER or MAX_ITER")
        if isinstance(value, dict):
            _check_keys(value, path, [*prefix, key])


def _base_paths(data: dict, path: Path) -> list[Path]:
    bases = data.pop(BASE_KEY)
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not bases or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"config file {path}: {BASE_KEY} must be a path or a list of paths to other configs, "
                          f"got {bases!r}")
    resolved = []
    for base in bases:
        base_path = Path(os.path.expanduser(base))
        resolved.append(base_path if base_path.is_absolute() else path.parent / base_path)
    return resolved


def _merge_into(child: dict, base: dict, path: Path, prefix: list[str]) -> None:
    """Merge `child` into `base` in place; the child's values win, mappings merge key by key."""
    for key, value in child.items():
        if isinstance(value, dict) and key in base:
            if not isinstance(base[key], dict):
                raise ConfigError(f"config file {path}: {'.'.join([*prefix, key])} is a mapping here but a value in "
                                  "its _BASE_")
            _merge_into(value, base[key], path, [*prefix, key])
        else:
            base[key] = value


def read_config_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The plain dict of a config file with its `_BASE_` files merged in (bases first, the file last)."""
    path = Path(path)
    real = path.resolve()
    if real in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, real))
        raise ConfigError(f"config file {path}: {BASE_KEY} files include each other in a cycle: {cycle}")
    data = _parse(path)
    if BASE_KEY not in data:
        return data
    merged: dict[str, Any] = {}
    for base in _base_paths(data, path):
        if not base.exists():
            raise FileNotFoundError(f"config file {path}: its {BASE_KEY} {base} does not exist")
        _merge_into(read_config_file(base, (*_chain, real)), merged, base, [])
    _merge_into(data, merged, path, [])
    return merged


def _yacs_message(err: Exception) -> str:
    message = err.args[0] if err.args else str(err)
    if "Non-existent" in str(message):
        message = f"{message} (unknown key: check its spelling and nesting; {CONFIG_HINT})"
    return str(message)


def merge_config_file(cfg: CfgNode, path: str | Path) -> None:
    """Merge a config file (and its bases) into `cfg`; unknown keys and wrong types fail naming the file."""
    data = read_config_file(path)
    version = data.pop("VERSION", cfg.VERSION)
    if version != cfg.VERSION:
        raise ConfigError(f"config file {path}: VERSION {version!r} is not supported; gpa configs are detectron2 "
                          f"config VERSION {cfg.VERSION}")
    try:
        cfg.merge_from_other_cfg(CfgNode(data))
    except (KeyError, ValueError, TypeError, AssertionError) as err:
        raise ConfigError(f"config file {path}: {_yacs_message(err)}") from None


def merge_overrides(cfg: CfgNode, opts: Sequence[Any]) -> None:
    """Merge `KEY VALUE` overrides (command line or opts=); values are read as Python literals, never run."""
    opts = [str(o) if isinstance(o, Path) else o for o in opts]
    if len(opts) % 2:
        raise ConfigError(f"config overrides must be KEY VALUE pairs, got an odd number ({len(opts)}): {opts}")
    for key in opts[0::2]:
        if key == BASE_KEY:
            raise ConfigError(f"{BASE_KEY} can only be used inside config files, not as an override")
    try:
        cfg.merge_from_list(opts)
    except (KeyError, ValueError, TypeError, AssertionError) as err:
        raise ConfigError(f"config override: {_yacs_message(err)}") from None


def load_config(config: str | Path | CfgNode, opts: Sequence[Any] = ()) -> tuple[CfgNode, str]:
    """(config, its name for messages): gpa's defaults, the file (or a copy of the given CfgNode), the
    overrides, then every value checked against its valid range and the extensions of EXTENSIONS loaded (their
    datasets and weights registered) before anything is built. The result is not frozen."""
    if isinstance(config, CfgNode):
        cfg, name = config.clone(), "the given config"
        cfg.defrost()
    else:
        cfg, name = get_cfg(), str(config)
        add_gpa_config(cfg)
        merge_config_file(cfg, config)
    merge_overrides(cfg, opts)
    try:
        validate_config(cfg)
        load_extensions(cfg.get(EXTENSIONS_KEY, ()), EXTENSIONS_KEY)
        _check_model_config_files(cfg)
    except ValueError as err:
        raise ConfigError(f"{name}: {err}") from None
    return cfg, name


def _check_model_config_files(cfg: CfgNode) -> None:
    """MODEL.CLIP.MODEL_CONFIG_FILES must be readable JSON now, not when the model is built."""
    clip = cfg.MODEL.get("CLIP")
    for entry in clip.get("MODEL_CONFIG_FILES", ()) if clip is not None else ():
        read_json(Path(entry).expanduser(), "open_clip model config (MODEL.CLIP.MODEL_CONFIG_FILES)")
