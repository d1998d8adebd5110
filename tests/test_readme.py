"""The README's Python works as written: its code block runs, and every name it shows exists."""

import ast
import re
from pathlib import Path

import pytest

import nst_teach
from nst_teach import data, images, optimize
from nst_teach.config import BOOK

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
ROOTS = {"nst": nst_teach, "nst_teach": nst_teach}
TINY = BOOK.replace(backbone="random", height=32, iterations=2, maxfun=3)

# What makes the README's block small enough for a test: its photo and painting are
# tiny files, and its settings are small (the book's default becomes TINY).
SMALLER = {"height=256, iterations=10": "height=32, iterations=2"}


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, re.S)


def inline_expressions():
    """Every `code span` of the README that is a Python expression using nst or nst_teach."""
    found = []
    for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", README):
        try:
            tree = ast.parse(span, mode="eval")
        except SyntaxError:
            continue
        if any(isinstance(node, ast.Name) and node.id in ROOTS for node in ast.walk(tree)):
            found.append((span, tree))
    return found


def dotted_names(tree):
    """The longest ``nst.a.b`` chains in `tree`, as lists of names."""
    chains = []
    for node in ast.walk(tree):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in ROOTS and parts:
            chains.append([node.id, *parts])
    return chains


def test_the_readme_shows_python_to_check():
    assert len(python_blocks()) >= 1
    spans = {span for span, _ in inline_expressions()}
    assert {"nst.data.example_names()", "nst_teach.clear_caches()"} <= spans


def test_every_name_the_readme_uses_exists_as_written():
    for span, tree in inline_expressions():
        for chain in dotted_names(tree):
            value = ROOTS[chain[0]]
            for name in chain[1:]:
                assert hasattr(value, name), f"README's `{span}`: {'.'.join(chain)} does not exist"
                value = getattr(value, name)


def test_the_readme_expressions_that_need_nothing_else_run(monkeypatch):
    monkeypatch.setenv("NST_TEACH_OFFLINE", "1")  # backbones.resolve: no knock on the server
    ran = []
    for span, tree in inline_expressions():
        free = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        if free <= set(ROOTS) and any(isinstance(node, ast.Call) for node in ast.walk(tree)):
            eval(compile(tree, "README.md", "eval"), dict(ROOTS))  # noqa: S307
            ran.append(span)
    assert "nst.data.example_names()" in ran and any(s.startswith("nst.preset(") for s in ran)


@pytest.mark.slow
def test_the_readme_python_block_runs(tmp_path, monkeypatch):
    (block,) = [b for b in python_blocks() if "nst.transfer(" in b]
    for text, smaller in SMALLER.items():
        assert text in block, f"the README's block changed: update SMALLER ({text!r})"
        block = block.replace(text, smaller)
    monkeypatch.chdir(tmp_path)
    images.save_image(images.resize(data.example("grace_hopper"), (40, 34), "bicubic"), "my_photo.jpg")
    images.save_image(images.resize(data.example("cubist"), (40, 40), "bicubic"), "painting.jpg")
    monkeypatch.setattr(optimize.transfer, "__defaults__", (TINY,))  # the book's settings, but small
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    result = namespace["result"]
    assert images.load_image("stylised.png").shape == result.image.shape == (32, 27, 3)
    assert len(result.history.iteration_loss) == 2


def test_the_speed_up_the_readme_and_notebook_06_state_is_the_benchmarks_last_measure():
    """The per-evaluation speed-up at 400 px is typed in two texts: it must be bench/run.py's."""
    import json
    root = Path(__file__).resolve().parent.parent
    record = json.loads((root / "bench" / "results" / "latest.json").read_text(encoding="utf-8"))
    at_400 = next(row for row in record["per_evaluation"] if row["height"] == 400)
    seconds = at_400["seconds"]
    assert re.search(rf"about {seconds['b_nst_teach']:.2f} s\s+against {seconds['a_book']:.2f} s "
                     rf"for the book's batch of three \({at_400['ratio_a_over_b']:.1f}x\)", README)
    notebook = (root / "notebooks" / "06_optimisation.ipynb").read_text(encoding="utf-8")
    assert f"about {at_400['ratio_a_over_b']:.1f} times" in notebook
