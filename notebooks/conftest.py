"""The notebooks under pytest (nbval): small, quick and offline.

nbval starts a notebook's kernel while setting up its first cell, and the
kernel inherits the environment of the pytest process at that moment. So the
variables are set around each notebook cell's set-up only, and the rest of
the test session keeps its own environment. Run with NST_TEACH_FAST=0 for
full size.
"""

import os

import pytest

NOTEBOOK_ENV = {"NST_TEACH_FAST": "1", "NST_TEACH_OFFLINE": "1"}  # offline: never knock


def pytest_collection_modifyitems(items):
    """Every notebook cell runs end to end in a kernel: `pytest -m "not slow"` skips them."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


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
