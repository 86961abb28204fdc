"""The registry type of gpa's own extension points: detectron2's `Registry`, plus registration under a config
value that is not the object's `__name__` and a lookup that fails naming the config key and the valid names."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from detectron2.utils.registry import Registry

__all__ = ["NamedRegistry"]

T = TypeVar("T")


class NamedRegistry(Registry):
    """A detectron2 `Registry` whose entries are looked up by the config key that names them.

    `@REGISTRY.register()` registers under `__name__` as in detectron2; `@REGISTRY.register_as("name")` under a
    config value such as "depthwise_conv". `get_for(name, key)` raises a ValueError naming `key` and listing the
    registered names instead of detectron2's KeyError.
    """

    def __init__(self, name: str, what: str) -> None:
        """what: the kind of entry in words, for error messages ("spatial mixer")."""
        super().__init__(name)
        self.what = what

    def register_as(self, name: str) -> Callable[[T], T]:
        """Decorator registering an object under `name`."""

        def decorator(obj: T) -> T:
            if name in self:
                raise ValueError(f"{self.what} {name!r} is already registered (by {self.get(name)!r})")
            self._do_register(name, obj)
            return obj

        return decorator

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(name for name, _ in self)

    def get_for(self, name: str, key: str) -> Any:
        """The entry registered as `name`, the value of config key `key`; unknown names fail listing the valid."""
        if name not in self:
            raise ValueError(f"unknown {self.what} {name!r} ({key}); valid: {', '.join(self.names())}")
        return self.get(name)
