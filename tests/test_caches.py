"""One cache module: what is built once is reused, a change that matters builds anew,
and clear_caches forgets everything."""

import numpy as np
import pytest

from nst_teach import BOOK, caches, clear_caches
from nst_teach.backbones import load_backbone
from nst_teach.caches import Cache, settings_key
from nst_teach.features import compute_targets, feature_extractor
from nst_teach.evaluator import traced_step
from nst_teach.losses import weighted_losses

SMALL = BOOK.replace(height=32, backbone="random")
SHAPE = (1, 32, 28, 3)


def counting_builder():
    built = []

    def build():
        built.append(object())
        return built[-1]

    return build, built


def test_plain_values_match_by_value_and_objects_by_identity():
    cache = Cache("test", 4)
    build, built = counting_builder()
    assert cache.get(("a", 1, (2.0, None)), build) is cache.get(("a", 1, (2.0, None)), build)
    first, twin = np.zeros(3), np.zeros(3)  # equal contents, different objects
    assert cache.get((first,), build) is cache.get((first,), build)
    assert cache.get((twin,), build) is not cache.get((first,), build)
    assert len(built) == 3


def test_an_object_whose_id_was_reused_is_not_mistaken_for_the_old_one(monkeypatch):
    cache = Cache("test", 4)
    build, built = counting_builder()
    old, new = object(), object()
    cache.get((old,), build)
    monkeypatch.setattr(caches, "id", lambda obj: 7, raising=False)  # every object: the same id
    cache.get((old,), build)  # stored again under the forged id
    assert cache.get((new,), build) is built[-1] and len(built) == 3  # new: built, not old's


def test_the_oldest_entry_goes_first():
    cache = Cache("test", 2)
    build, built = counting_builder()
    a = cache.get(("a",), build)
    cache.get(("b",), build)
    cache.get(("c",), build)
    assert len(cache) == 2 and cache.get(("a",), build) is not a


def test_backbones_extractors_and_traced_steps_are_reused_until_a_field_that_matters_changes():
    model, _ = load_backbone("random")
    assert load_backbone(name="random") is load_backbone("random", None, 0, "max")
    assert load_backbone("random", seed=1)[0] is not model
    extractor = feature_extractor(model, SMALL.layers)
    assert feature_extractor(model, list(SMALL.layers)) is extractor
    assert feature_extractor(model, SMALL.layers, "winograd") is not extractor
    step = traced_step(extractor, SMALL, SHAPE)
    for unrelated in ({"height": 64}, {"iterations": 3}, {"seed": 4}, {"resample": "bicubic"}):
        assert traced_step(extractor, SMALL.replace(**unrelated), SHAPE) is step
    for loss_change in ({"style_weight": 2.0}, {"tv_weight": 0.0}, {"normalization": "paper"},
                        {"style_layers": SMALL.style_layers[:2]},
                        {"style_layer_weights": (1, 1, 1, 1, 2)}):
        assert traced_step(extractor, SMALL.replace(**loss_change), SHAPE) is not step
    assert traced_step(extractor, SMALL, (1, 32, 32, 3)) is not step


class ReadRecorder:
    """Settings that note which fields are read."""

    def __init__(self, settings):
        self.settings, self.read = settings, set()

    def __getattr__(self, name):
        self.read.add(name)
        return getattr(self.settings, name)


@pytest.mark.parametrize("masked", [False, True])
def test_the_fields_marked_in_loss_graph_are_exactly_those_the_loss_reads(rng, masked):
    settings = SMALL.replace(style_layer_weights=(1, 2, 3, 4, 5), normalization="paper")
    extractor = feature_extractor(load_backbone("random")[0], settings.layers)
    content_x, style_x, x = rng.normal(scale=40, size=(3, *SHAPE)).astype(np.float32)
    masks = [np.ones(SHAPE[1:3])] if masked else None
    targets = compute_targets(extractor, content_x, [style_x] if masked else style_x, settings, masks)
    recorder = ReadRecorder(settings)
    weighted_losses(extractor(x), targets, x, recorder)
    assert recorder.read == {name for name, _ in settings_key(settings)}


def test_clear_caches_empties_every_cache_and_the_next_call_builds_anew():
    from nst_teach.fast.network import _forward, build_network

    model, _ = load_backbone("random")
    extractor = feature_extractor(model, SMALL.layers)
    traced_step(extractor, SMALL, SHAPE)
    _forward(build_network(filters=(2, 2, 2), residual_blocks=1), np.zeros((1, 8, 8, 3), np.float32))
    assert {cache.name for cache in caches._ALL if len(cache)} >= {
        "backbones", "feature extractors", "traced loss steps", "fast networks' traced forward passes"}
    clear_caches()
    assert all(len(cache) == 0 for cache in caches._ALL)
    assert load_backbone("random")[0] is not model
