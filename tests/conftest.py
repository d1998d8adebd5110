"""Shared fixtures; and no test may touch the network."""

import socket

import numpy as np
import pytest


class NetworkBlocked(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkBlocked("a test tried to open a network connection")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection attempt fails loudly (not with the OSError code expects)."""
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def photo():
    """A small real photo: the example portrait, shrunk."""
    from nst_teach import data, images

    return images.resize(data.example("grace_hopper"), (60, 52), "bicubic")
