"""The package's shape: its modules import one another without cycles.

A cycle (a imports b, b imports a, perhaps through others or inside a
function) means neither can be read, tested or reused alone. The imports are
read from the source with `ast`, those inside functions too, so an import
moved into a function to dodge a cycle is still found.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nst_teach"


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path, modules):
    """The package's modules that the file at `path` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    packages = {m for m in modules if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").is_file()}
    # every module imports its packages anyway: an edge to a package is no dependency
    return {m for m in found if m in modules and m not in packages and m != name}


def import_graph():
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(graph):
    """Every import cycle, each as a list of modules from its smallest name round to it again."""
    found = set()

    def walk(node, path):
        for target in graph.get(node, ()):
            if target in path:
                loop = path[path.index(target):]
                start = loop.index(min(loop))
                found.add(tuple(loop[start:] + loop[:start]))
            elif target > path[0]:  # each cycle is found from its smallest member
                walk(target, path + [target])

    for node in sorted(graph):
        walk(node, [node])
    return sorted(list(loop) + [loop[0]] for loop in found if loop[0] == min(loop))


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_graph_sees_relative_imports_and_imports_inside_functions():
    graph = import_graph()
    assert "nst_teach.losses" in graph["nst_teach.evaluator"]  # from .losses import ...
    assert "nst_teach.images" in graph["nst_teach.fast.perceptual_loss"]  # from .. import images
    assert "nst_teach.data" in graph["nst_teach.cli"]  # inside run_transfer


def test_the_package_has_no_import_cycles():
    assert cycles(import_graph()) == []
