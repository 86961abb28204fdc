"""Training and evaluation machinery."""

from .setup import build_config, check_dataset_names, check_run
from .trainer import Trainer

__all__ = ["Trainer", "build_config", "check_dataset_names", "check_run"]
