"""gpa/'s import graph, read from the source with `ast`: acyclic between modules and between sub-packages, and
nothing imported from the toy-world extension (gpa_toy imports gpa, never the other way)."""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXTENSION_PACKAGES = ("gpa_toy",)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root` by dotted name (a package by the name of its __init__.py)."""
    return {module_name(root, path): path for path in sorted((root / package).rglob("*.py"))}


def imported_names(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules `path` (module `name`) imports, relative imports resolved. `from X import a` counts as an
    import of X.a when that is a module in `known`, else of X; imports inside functions count too."""
    known = set(known)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports."""
    modules = package_modules(root, package)
    return {name: {t for t in imported_names(name, path, modules) if t in modules and t != name}
            for name, path in modules.items()}


def package_graph(root: Path, graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The module graph collapsed to sub-packages (the top package's own modules, such as gpa.config, stay nodes of
    their own); edges between a package and its ancestors or descendants are left out (a package holds them)."""
    def package_of(module: str) -> str:
        path = root / module.replace(".", "/")
        if (path / "__init__.py").is_file() or module.count(".") == 1:
            return module
        return module.rsplit(".", 1)[0]

    def nested(a: str, b: str) -> bool:
        return a == b or a.startswith(b + ".") or b.startswith(a + ".")

    collapsed: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = package_of(module)
        collapsed.setdefault(source, set()).update(
            package_of(t) for t in targets if not nested(source, package_of(t)))
    return collapsed


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def imports_of_extensions(root: Path, package: str) -> list[str]:
    modules = package_modules(root, package)
    return [f"{name} imports {target}" for name, path in modules.items()
            for target in sorted(imported_names(name, path, modules))
            if target.split(".")[0] in EXTENSION_PACKAGES]


# ------------------------------------------------------------------ gpa itself
def test_gpa_imports_nothing_from_the_toy_extension():
    assert imports_of_extensions(REPO, "gpa") == []


def test_gpa_modules_import_each_other_without_a_cycle():
    graph = import_graph(REPO, "gpa")
    assert len(graph) > 100 and graph["gpa.engine.setup"] >= {"gpa.config_loading", "gpa.extensions"}
    assert cycles(graph) == []


def test_gpa_sub_packages_import_each_other_without_a_cycle():
    graph = package_graph(REPO, import_graph(REPO, "gpa"))
    assert graph["gpa.modeling.backbone"] >= {"gpa.extensions", "gpa.registry"}
    assert cycles(graph) == []


# ------------------------------------------------------------------ the checks find what they look for
def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checks_find_a_package_cycle_and_an_extension_import(tmp_path):
    """The layout of the cycle gpa had (a backbone module importing the toy package, a toy module importing the
    backbone) and of an import from gpa_toy, in a throwaway package."""
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/data/__init__.py": "from . import toy\n",
        "pkg/data/toy/__init__.py": "",
        "pkg/data/toy/align.py": "from pkg.modeling.backbone.encoders import X\n",
        "pkg/modeling/__init__.py": "",
        "pkg/modeling/backbone/__init__.py": "",
        "pkg/modeling/backbone/encoders.py": "X = 1\n",
        "pkg/modeling/backbone/loading.py": "def f():\n    from ...data.toy import align\n    import gpa_toy.world\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.modeling.backbone.loading"] == {"pkg.data.toy.align"}
    assert graph["pkg.data"] == {"pkg.data.toy"}
    assert cycles(graph) == []  # no cycle between modules ...
    assert cycles(package_graph(tmp_path, graph)) == [["pkg.data.toy", "pkg.modeling.backbone"]]  # ... but packages
    assert imports_of_extensions(tmp_path, "pkg") == ["pkg.modeling.backbone.loading imports gpa_toy.world"]


def test_the_checks_find_a_module_cycle(tmp_path):
    _write(tmp_path, {"pkg/__init__.py": "from .a import A\n", "pkg/a.py": "from .b import B\nA = 1\n",
                      "pkg/b.py": "import pkg.a\nB = 2\n"})
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]
