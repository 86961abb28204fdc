"""Extensions: installed packages that add datasets, weights or components to gpa when a config names them.

A config's `EXTENSIONS` lists extension names. Each name is looked up among the entry points of the group
`gpa.extensions` that installed distributions declare (pyproject.toml: `[project.entry-points."gpa.extensions"]
name = "package:function"`), and that function is called once per process to register what the extension
provides. Only installed packages that declare themselves gpa extensions can be loaded, so a config file
cannot make gpa import a module of its choosing. gpa's own toy world is the extension `toy` (gpa_toy/).
"""
from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

__all__ = ["CONFIG_KEY", "ENTRY_POINT_GROUP", "installed_extensions", "load_extensions", "loaded_extensions"]

ENTRY_POINT_GROUP = "gpa.extensions"
CONFIG_KEY = "EXTENSIONS"
_loaded: list[str] = []  # names whose register function has run in this process, in loading order


def _where(entry: EntryPoint) -> str:
    dist = entry.dist
    return f"{entry.value} of {dist.name} {dist.version}" if dist is not None else entry.value


def _declared() -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, []).append(entry)
    return found


def installed_extensions() -> list[str]:
    """The names of the installed extensions, sorted."""
    return sorted(_declared())


def loaded_extensions() -> list[str]:
    """The extensions loaded in this process, in loading order."""
    return list(_loaded)


def load_extensions(names: Iterable[str], key: str = CONFIG_KEY) -> list[str]:
    """Call the register function of each extension in `names` (the value of config key `key`) not loaded yet.

    Loading is idempotent: a name already loaded is skipped. Returns the names that were loaded now.
    """
    names = list(names)
    if not names:
        return []
    declared = _declared()
    loaded_now = []
    for name in names:
        if name in _loaded:
            continue
        if name not in declared:
            available = ", ".join(sorted(declared)) or "none"
            raise ValueError(
                f"{key} names the extension {name!r}, which is not installed; installed gpa extensions: {available}. "
                f"An extension is an installed package declaring an entry point in the group {ENTRY_POINT_GROUP!r} "
                "(gpa's own, such as 'toy', are declared in gpa's pyproject.toml: reinstall gpa with `pip install "
                "-e .` or `bash tools/setup_env.sh` if they are missing); install the package that provides "
                f"{name!r}, or remove it from {key}"
            )
        entry, *others = declared[name]
        for other in others:
            if other.value != entry.value:
                raise ValueError(f"the gpa extension {name!r} ({key}) is declared twice ({_where(entry)} and "
                                 f"{_where(other)}); uninstall one of the two packages")
        try:
            register = entry.load()
        except ImportError as err:
            raise ImportError(f"the gpa extension {name!r} ({key}) could not be imported from {_where(entry)}: "
                              f"{err}; reinstall the package that provides it") from err
        register()
        _loaded.append(name)
        loaded_now.append(name)
    return loaded_now
