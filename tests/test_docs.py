"""Every public function and class points back to where it is taught or used, truthfully.

d2l's habit: a helper's docstring names the notebook that teaches it
("Taught in notebook 04."), so a reader can go from the library back to the
lesson. Helpers no notebook shows say who uses them ("Used by the command
line.", "Used by `nst_teach.optimize`."). Both claims are checked here against
the notebooks' and modules' source; and `__all__` lists each module's public names.
"""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

import nst_teach

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in (ROOT / "nst_teach").rglob("*.py") if p.name != "__main__.py")
TAUGHT = re.compile(r"Taught in notebooks? (\d\d(?:(?:, | and )\d\d)*)")
USED = re.compile(r"Used by (the command line|`[\w./]+`(?:(?:, | and )`[\w./]+`)*)")


def public_definitions(path):
    tree = ast.parse(path.read_text())
    return [node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")]


def notebook_source(number):
    """A notebook's code cells, and the `names` its text shows as code."""
    (path,) = (ROOT / "notebooks").glob(f"{number}_*.ipynb")
    parts = []
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            parts.append(source)
        else:
            parts += re.findall(r"`((?:\w+\.)*\w+)(?:\([^`]*\))?`", source)
    return "\n".join(parts)


def uses_in_notebook(source, name):
    """`name` as code: called, imported, an attribute, or an exercise's `my_name`; not in quotes."""
    return re.search(rf"(?<![\w.\"'])(my_)?{name}\b(?![\"'])|\.{name}\b", source) is not None


def code_names(path):
    """Every name a module's code refers to (not its comments or docstrings)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.alias):
            names.append(node.asname or node.name)
    return names


def user_paths(user):
    if user == "the command line":
        return [ROOT / "nst_teach" / "cli.py", ROOT / "nst_teach" / "__main__.py"]
    user = user.strip("`")
    return [ROOT / user if user.endswith(".py") else ROOT / (user.replace(".", "/") + ".py")]


DEFINITIONS = [(path, node) for path in MODULES for node in public_definitions(path)]


@pytest.mark.parametrize("path, node", DEFINITIONS,
                         ids=[f"{p.stem}.{n.name}" for p, n in DEFINITIONS])
def test_each_public_definition_names_a_notebook_that_teaches_it_or_its_user(path, node):
    doc = " ".join((ast.get_docstring(node) or "").split())
    taught, used = TAUGHT.search(doc), USED.search(doc)
    assert taught or used, (f"{node.name} ({path.name}): say 'Taught in notebook NN.' or "
                            "'Used by `nst_teach.module`.' in its docstring")
    if taught:
        for number in re.findall(r"\d\d", taught.group(1)):
            assert uses_in_notebook(notebook_source(number), node.name), (
                f"{node.name}'s docstring says notebook {number} teaches it, but it does not use it")
    if used:
        for user in re.findall(r"the command line|`[\w./]+`", used.group(1)):
            paths = user_paths(user)
            assert all(p.is_file() for p in paths), f"{node.name}: no module {user}"
            assert any(node.name in code_names(p) for p in paths), (
                f"{node.name}'s docstring says {user} uses it, but it does not")


def test_the_checker_catches_a_false_claim():
    source = notebook_source("04")
    assert uses_in_notebook(source, "gram_matrix") and uses_in_notebook(source, "style_loss")
    assert not uses_in_notebook(source, "coarse_to_fine")
    assert "coarse_to_fine" not in code_names(ROOT / "nst_teach" / "losses.py")


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_all_lists_every_public_definition_and_only_names_that_exist(path):
    module = importlib.import_module(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    listed = getattr(module, "__all__", None)
    assert listed is not None, f"{path.name} has no __all__"
    assert {node.name for node in public_definitions(path)} <= set(listed)
    assert [name for name in listed if not hasattr(module, name)] == []


def test_the_packages_public_names_are_in_their_modules_all():
    for name, module in nst_teach._PUBLIC.items():
        assert name in importlib.import_module(f"nst_teach.{module}").__all__, name
