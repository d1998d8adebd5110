"""What nst-teach builds once and reuses, in one place, emptied by `clear_caches`.

Building a backbone takes seconds and tracing a loss graph about one: a
notebook's second run, a widget's Run button or the next stage of a coarse-to-fine run reuses them.
Each kind of object has a `Cache`: the backbones, the feature extractors, the
traced loss-and-gradient steps and the fast networks' traced forward passes.

A key is a tuple. Its plain values (numbers, strings, None, tuples of them)
compare by value; any other object in it (a Keras model, an extractor) by
identity, and the entry keeps that object, so a new object that happens to
reuse a freed one's ``id`` is never mistaken for it. The settings a traced
graph bakes in are found from `Settings` itself: `settings_key` reads the
fields declared with ``in_loss_graph`` (see `nst_teach.config`).
"""

from __future__ import annotations

import dataclasses
import os

__all__ = ["Cache", "clear_caches", "settings_key"]

PLAIN = (str, bytes, int, float, complex, bool, type(None), os.PathLike)

_ALL = []  # every Cache, for clear_caches


class Cache:
    """Objects built by key, at most `size` of them; the oldest is dropped first.

    Used by `nst_teach.backbones`, `nst_teach.features`, `nst_teach.evaluator`
    and `nst_teach.fast.network`.
    """

    def __init__(self, name, size):
        self.name, self.size = name, size
        self._entries = {}  # frozen key -> (objects compared by identity, value)
        _ALL.append(self)

    def get(self, key, build):
        """The value stored under `key`, or ``build()``'s, stored for next time."""
        frozen, objects = _freeze(key)
        entry = self._entries.get(frozen)
        if entry is not None and all(a is b for a, b in zip(entry[0], objects)):
            return entry[1]
        value = build()
        while len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[frozen] = (objects, value)
        return value

    def clear(self):
        """Forget every entry."""
        self._entries.clear()

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"Cache({self.name!r}, {len(self)}/{self.size} entries)"


def _freeze(key):
    """`key` with every non-plain object replaced by its id, and those objects in order."""
    objects = []

    def freeze(part):
        if isinstance(part, tuple):
            return tuple(freeze(item) for item in part)
        if isinstance(part, PLAIN):
            return part
        objects.append(part)
        return ("object", id(part))

    return freeze(key), tuple(objects)


def settings_key(settings, marker="in_loss_graph"):
    """The (name, value) pairs of the fields of `settings` whose metadata carries `marker`.

    The fields that `nst_teach.evaluator.traced_step`'s graph bakes in are
    declared once, beside the fields themselves in `nst_teach.config`.
    Used by `nst_teach.evaluator`.
    """
    return tuple((field.name, getattr(settings, field.name))
                 for field in dataclasses.fields(settings) if field.metadata.get(marker))


def clear_caches():
    """Forget every backbone, extractor and traced graph that nst-teach has kept.

    Frees their memory; the next run builds them again (a few seconds).
    Nothing else changes: results are the same either way. Used by
    `tests/test_caches.py` and `tests/test_backbones.py`.
    """
    for cache in _ALL:
        cache.clear()
