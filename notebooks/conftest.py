"""The notebooks under pytest (nbval): small, quick and offline.

nbval starts a notebook's kernel while setting up its first cell, and the
kernel inherits the environment of the pytest process at that moment. So the
variables are set around each notebook cell's set-up only, and the rest of
the test session keeps its own environment. Run with NST_TEACH_FAST=0 for
full size.

A cell marked ``# NBVAL_CHECK_OUTPUT`` prints what does not depend on the
size (settings, layer names, a refusal's message): nbval compares its output
here with the kept full-size run's (book/runs/, the course site's), so a
library change that makes a kept run's output stale fails the fast run,
without running anything at full size.
"""

import functools
import os
from pathlib import Path

import nbformat
import pytest

RUNS = Path(__file__).resolve().parents[1] / "book" / "runs"

NOTEBOOK_ENV = {"NST_TEACH_FAST": "1", "NST_TEACH_OFFLINE": "1"}  # offline: never knock


def pytest_collection_modifyitems(items):
    """Every notebook cell runs end to end in a kernel: `pytest -m "not slow"` skips them."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
            compare_with_kept_run(item)


def compare_with_kept_run(item):
    """Give a marked cell the kept run's outputs of the same source, for nbval to compare with."""
    cell = getattr(item, "cell", None)
    if cell is None or "# NBVAL_CHECK_OUTPUT" not in cell.source:
        return
    kept = next((c for c in kept_run(item.path.stem) if c.source == cell.source), None)
    if kept is not None:  # a cell changed since the run: tests/test_site.py names it
        cell.outputs, cell.execution_count = kept.outputs, kept.execution_count or 1


@functools.lru_cache
def kept_run(name):
    """The code cells of book/runs/<name>.ipynb (none if there is no run)."""
    path = RUNS / f"{name}.ipynb"
    if not path.exists():
        return ()
    return tuple(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    saved = {name: os.environ.get(name) for name in NOTEBOOK_ENV}
    for name, value in NOTEBOOK_ENV.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
