"""Registration of open_clip model-config JSON files: the package's own and user-supplied ones."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import open_clip

__all__ = ["PACKAGE_MODEL_CONFIG_DIR", "register_model_configs"]

PACKAGE_MODEL_CONFIG_DIR = Path(__file__).resolve().parents[2] / "model_configs"
_REQUIRED_KEYS = ("embed_dim", "vision_cfg", "text_cfg")
_registered: set[Path] = set()


def _check_config_file(path: Path) -> None:
    """open_clip silently skips files without its required keys; fail instead."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"open_clip model config {path} is not valid JSON: {error}") from error
    missing = [key for key in _REQUIRED_KEYS if not isinstance(config, dict) or key not in config]
    if missing:
        raise ValueError(f"open_clip model config {path} lacks {missing}; it needs {list(_REQUIRED_KEYS)}")


def register_model_configs(
    extra_files: Iterable[str | Path] = (), source: str = "MODEL.CLIP.MODEL_CONFIG_FILES"
) -> list[str]:
    """Register gpa/model_configs/*.json and `extra_files` with open_clip.

    A config is named by its file stem. Registering the same file twice is a no-op. `source` says where the
    extra files come from, for messages (the config key, or the extension shipping them). Returns the model names
    that came from the registered files.
    """
    files = sorted(PACKAGE_MODEL_CONFIG_DIR.glob("*.json"))
    for extra in extra_files:
        path = Path(extra).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"open_clip model config {extra} ({source}) does not exist")
        if path.suffix != ".json":
            raise ValueError(f"open_clip model config {extra} must be a .json file ({source})")
        files.append(path)
    for path in files:
        if path not in _registered:
            _check_config_file(path)
            open_clip.add_model_config(path)
            _registered.add(path)
    return [path.stem for path in files]
