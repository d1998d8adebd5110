"""One cache module: what is built once is reused, a change that matters builds anew,
and clear_caches forgets everything."""

import numpy as np
import pytest

from nst_teach import BOOK, caches, clear_caches
from nst_teach.backbones import load_backbone
from nst_teach.caches import Cache, settings_key
from nst_teach.features import compute_targets, feature_extractor
from nst_teach.evaluator import make_loss_and_grads, traced_step
from nst_teach.losses import loss_weights, weighted_losses

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
    for unrelated in ({"height": 64}, {"iterations": 3}, {"seed": 4}, {"resample": "bicubic"},
                      {"style_weight": 2.0}, {"tv_weight": 0.0}, {"content_weight": 1.0},
                      {"style_layer_weights": (1, 1, 1, 1, 2)}):  # the weights are inputs
        assert traced_step(extractor, SMALL.replace(**unrelated), SHAPE) is step
    for graph_change in ({"normalization": "paper"}, {"style_layers": SMALL.style_layers[:2]},
                         {"content_layer": "block4_conv2"}):
        assert traced_step(extractor, SMALL.replace(**graph_change), SHAPE) is not step
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
    weighted_losses(extractor(x), targets, x, recorder, loss_weights(settings))  # as traced
    assert recorder.read == {name for name, _ in settings_key(settings)}


@pytest.mark.parametrize("masked", [False, True])
def test_runs_that_differ_only_in_weights_share_one_trace_and_its_numbers_are_a_fresh_traces(
        rng, masked):
    settings = SMALL.replace(normalization="paper")
    reweighed = settings.replace(content_weight=3.0, style_weight=0.5, tv_weight=0.01,
                                 style_layer_weights=(1, 2, 0, 4, 5))
    extractor = feature_extractor(load_backbone("random")[0], settings.layers)
    content_x, style_x, x = rng.normal(scale=40, size=(3, *SHAPE)).astype(np.float32)
    masks = [np.ones(SHAPE[1:3])] if masked else None
    targets = compute_targets(extractor, content_x, [style_x] if masked else style_x, settings, masks)
    x = x.ravel().astype(np.float64)
    clear_caches()
    step = traced_step(extractor, settings, SHAPE)
    first = make_loss_and_grads(extractor, targets, settings, SHAPE)(x)
    again = make_loss_and_grads(extractor, targets, reweighed, SHAPE)(x)
    assert traced_step(extractor, reweighed, SHAPE) is step
    assert step.experimental_get_tracing_count() == 1  # the second run traced nothing
    assert again[0]["content"] != first[0]["content"] and again[0]["tv"] != first[0]["tv"]
    clear_caches()  # a fresh trace for the new weights gives the same numbers to the last bit
    fresh = make_loss_and_grads(extractor, targets, reweighed, SHAPE)(x)
    assert traced_step(extractor, reweighed, SHAPE) is not step
    assert fresh[0] == again[0] and np.array_equal(fresh[1], again[1])
    eager = weighted_losses(extractor(x.reshape(SHAPE).astype(np.float32)), targets,
                            x.reshape(SHAPE).astype(np.float32), reweighed)  # the weights as given
    for name, value in eager.items():
        assert again[0][name] == pytest.approx(float(value), rel=1e-5)


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
