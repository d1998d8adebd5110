"""The Evaluator, the loop, and an end-to-end run with the offline backbone."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from nst_teach import BOOK, Evaluator, Settings, data, images, losses, transfer
from nst_teach.backbones import load_backbone
from nst_teach.features import compute_targets, feature_extractor
from nst_teach.evaluator import StopRun, make_loss_and_grads
from nst_teach.progress import Evaluation, Round

FAST = Settings(height=32, iterations=3, maxfun=5, backbone="random", resample="bicubic")


class CountingLoss:
    """A quadratic with a known gradient that counts its calls."""

    calls = 0

    def __call__(self, x):
        self.calls += 1
        parts = {"total": float(np.sum(x**2)), "content": float(np.sum(x**2)), "style": 0.0, "tv": 0.0}
        return parts, 2 * x


def test_evaluator_computes_once_and_hands_over_cached_gradient():
    f = CountingLoss()
    evaluator = Evaluator(f)
    x = np.array([1.0, -2.0])
    assert evaluator.loss(x) == 5.0
    np.testing.assert_array_equal(evaluator.grads(x), [2.0, -4.0])
    assert f.calls == 1
    assert evaluator.history.evaluations["total"] == [5.0]


def test_evaluator_refuses_wrong_call_order():
    evaluator = Evaluator(CountingLoss())
    with pytest.raises(RuntimeError, match="before loss"):
        evaluator.grads(np.zeros(2))
    evaluator.loss(np.zeros(2))
    with pytest.raises(RuntimeError, match="twice"):
        evaluator.loss(np.zeros(2))


def test_evaluator_keeps_best_and_stops_on_request():
    evaluator = Evaluator(CountingLoss())
    for x in ([3.0], [1.0], [2.0]):
        evaluator.loss(np.array(x))
        evaluator.grads(np.array(x))
    assert evaluator.best_x.tolist() == [1.0] and evaluator.best_loss == 1.0
    evaluator.stop()
    with pytest.raises(StopRun):
        evaluator.loss(np.array([0.0]))


def book_loss_and_grads(model, content_x, style_x, x, settings):
    """The book's formulation: all three images as one batch through the network."""
    outputs = {n: model.get_layer(n).output for n in settings.layers}
    full = tf.keras.Model(model.input, outputs)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        feats = full(tf.concat([content_x, style_x, x], axis=0))
        h, w = x.shape[1:3]
        layer = feats[settings.content_layer]
        loss = settings.content_weight * tf.reduce_sum(tf.square(layer[2] - layer[0]))
        for name in settings.style_layers:
            f = feats[name]
            s = tf.reshape(tf.transpose(f[1], (2, 0, 1)), (f.shape[-1], -1))
            c = tf.reshape(tf.transpose(f[2], (2, 0, 1)), (f.shape[-1], -1))
            sl = tf.reduce_sum(tf.square(s @ tf.transpose(s) - c @ tf.transpose(c))) / (4.0 * 9 * (h * w) ** 2)
            loss += settings.style_weight / len(settings.style_layers) * sl
        a = tf.square(x[:, : h - 1, : w - 1, :] - x[:, 1:, : w - 1, :])
        b = tf.square(x[:, : h - 1, : w - 1, :] - x[:, : h - 1, 1:, :])
        loss += settings.tv_weight * tf.reduce_sum(tf.pow(a + b, 1.25))
    return float(loss), tape.gradient(loss, x).numpy()


def test_precomputed_targets_equal_the_books_batch_of_three(rng):
    settings = BOOK.replace(height=48, backbone="random")
    model, _ = load_backbone("random")
    content_x, style_x, x = (rng.normal(scale=40, size=(3, 1, 48, 40, 3))).astype(np.float32)
    extractor = feature_extractor(model, settings.layers)
    targets = compute_targets(extractor, content_x, style_x, settings)
    parts, grad = make_loss_and_grads(extractor, targets, settings, x.shape)(x.ravel())
    book_loss, book_grad = book_loss_and_grads(model, content_x, style_x, x, settings)
    assert parts["total"] == pytest.approx(book_loss, rel=1e-4)
    np.testing.assert_allclose(grad, book_grad.ravel(), rtol=1e-3, atol=1e-4 * np.abs(book_grad).max())


@pytest.mark.slow
def test_transfer_saves_each_iteration_and_reports(tmp_path, photo):
    style = data.example("swirls")
    result = transfer(photo, style, FAST, save_prefix=tmp_path / "run")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"run_at_iteration_{i}.png" for i in range(3)]
    np.testing.assert_array_equal(images.load_image(tmp_path / "run_at_iteration_2.png"), result.image)
    h = result.history
    assert len(h.iteration_loss) == 3 and len(h.iteration_seconds) == 3
    assert h.iteration_evaluations[-1] == h.n_evaluations <= 3 * (5 + 1)
    assert h.iteration_loss[-1] < h.evaluations["total"][0]
    assert result.image.shape == (32, 27, 3) and result.image.dtype == np.uint8


def test_a_listener_can_stop_and_ctrl_c_keeps_best_image(photo):
    seen = []

    def first_round_only(event):
        if isinstance(event, Round):
            seen.append(event.index)
            return event.index == 0  # a truthy answer stops, as event.stop() does

    result = transfer(photo, photo, FAST, on_event=first_round_only)
    assert seen == [0] and result.stopped and len(result.history.iteration_loss) == 1

    def interrupt(event):
        if isinstance(event, Round):
            raise KeyboardInterrupt

    result = transfer(photo, data.example("cubist"), FAST, on_event=interrupt)
    assert result.stopped
    assert result.history.n_evaluations > 0
    best = int(np.argmin(result.history.evaluations["total"]))
    assert result.history.evaluations["total"][best] <= result.history.iteration_loss[0]
    assert result.image.shape == (32, 27, 3)


def test_stop_from_an_evaluation_ends_within_an_iteration(photo):
    def stop_at_the_seventh(event):
        if isinstance(event, Evaluation) and event.count == 7:
            event.stop()

    result = transfer(photo, photo, FAST.replace(iterations=5), on_event=stop_at_the_seventh)
    assert result.stopped and len(result.history.iteration_loss) == 1
    assert result.history.n_evaluations == 7  # the eighth was refused


def gram_distance(extractor, a, b, layers):
    fa, fb = extractor(images.preprocess(a)), extractor(images.preprocess(b))
    return sum(
        float(tf.reduce_sum(tf.square(losses.gram_matrix(fa[n]) - losses.gram_matrix(fb[n]))))
        for n in layers
    )


@pytest.mark.slow
def test_offline_backbone_stylises(photo):
    """With real pretrained features, the result takes on the style and keeps the content."""
    settings = BOOK.replace(height=96, iterations=6, maxfun=20, backbone="hed-vgg16", resample="bicubic")
    content = data.example("grace_hopper")
    result = transfer(content, data.example("swirls"), settings)
    h = result.history
    assert h.iteration_loss[-1] < 0.5 * h.evaluations["total"][0]

    model, _ = load_backbone("hed-vgg16")
    extractor = feature_extractor(model, settings.layers)
    start, style = result.content, result.style
    layers = settings.style_layers
    assert gram_distance(extractor, result.image, style, layers) < 0.5 * gram_distance(extractor, start, style, layers)

    def content_distance(a, b):
        fa = extractor(images.preprocess(a))[settings.content_layer]
        fb = extractor(images.preprocess(b))[settings.content_layer]
        return float(tf.reduce_sum(tf.square(fa - fb)))

    assert content_distance(result.image, start) < content_distance(result.image, style)


def test_too_narrow_image_is_refused_with_the_fix():
    narrow = np.zeros((200, 20, 3), np.uint8)  # 64 px tall -> 6 px wide, block5 needs 16
    with pytest.raises(ValueError, match="6 px wide.*at least 16 px: use a height of at least 160"):
        transfer(narrow, narrow, FAST.replace(height=64))


@pytest.mark.slow
def test_example_names_work_as_inputs():
    result = transfer("grace_hopper", "cubist", FAST.replace(iterations=1, maxfun=2))
    assert result.image.shape == (32, 27, 3)


# Hardening (issue 14)

from nst_teach import memory  # noqa: E402
from nst_teach.evaluator import LossNotFinite  # noqa: E402


def test_empty_style_list_is_refused_clearly():
    with pytest.raises(ValueError, match="style is an empty list"):
        transfer("grace_hopper", [], BOOK, height=32, backbone="random")


def test_nan_in_a_mask_is_refused():
    mask = np.ones((8, 8))
    mask[2, 3] = np.nan
    with pytest.raises(ValueError, match="mask contains NaN"):
        transfer("grace_hopper", "cubist", BOOK, height=32, iterations=1, maxfun=3,
                 backbone="random", mask=mask)


def test_loss_that_overflows_raises_and_never_reports_success():
    with pytest.raises(LossNotFinite, match="float32 overflows") as caught:
        transfer("grace_hopper", "cubist", BOOK, height=32, iterations=1, maxfun=3,
                 backbone="random", style_weight=1e39)
    assert caught.value.image is None  # not even the first evaluation was finite


def test_loss_that_turns_nan_mid_run_keeps_the_last_finite_image():
    from scipy.optimize import fmin_l_bfgs_b, rosen, rosen_der

    calls = []

    def loss_and_grads(x):  # Rosenbrock's valley, then NaN from the fourth evaluation on
        calls.append(x)
        value = rosen(x) if len(calls) < 4 else np.nan
        return {"total": value, "content": value, "style": 0.0, "tv": 0.0}, rosen_der(x)

    evaluator = Evaluator(loss_and_grads)
    with pytest.raises(LossNotFinite, match="evaluation 4"):
        fmin_l_bfgs_b(evaluator.loss, np.array([-1.2, 1.0, 0.5]), fprime=evaluator.grads, maxfun=50)
    assert evaluator.history.n_evaluations == 3 and np.isfinite(evaluator.best_loss)


def test_memory_estimate_grows_with_the_area_and_refuses_before_building(monkeypatch):
    from nst_teach import problem

    small, large = memory.estimate_gb(100, 100, BOOK.layers), memory.estimate_gb(200, 200, BOOK.layers)
    np.testing.assert_allclose(large - memory.FIXED_GB, 4 * (small - memory.FIXED_GB), rtol=0.05)
    monkeypatch.setattr(problem, "load_backbone", lambda *a: pytest.fail("built a backbone"))
    with pytest.raises(memory.RunTooLarge, match="use height at most") as caught:
        transfer("grace_hopper", "cubist", BOOK, height=3000, memory_limit_gb=4.0)
    assert caught.value.field == "height"
    fits = int(str(caught.value).split("at most ")[1].split(" px")[0])
    width = int(3000 * 512 / 600)  # grace_hopper is 600 x 512

    def needed(height):  # the features and L-BFGS's past steps
        size = (height, int(height * width / 3000))
        return memory.estimate_gb(*size, BOOK.layers) + sum(memory.lbfgs_gb(*size, BOOK))

    assert needed(fits) <= 4.0 < needed(fits + 50)


def test_numpy_numbers_work_end_to_end():
    result = transfer("grace_hopper", "cubist", BOOK, height=np.int64(32), iterations=np.int32(1),
                      maxfun=np.int64(3), backbone="random", style_weight=np.float32(1.0))
    assert result.image.shape == (32, 27, 3)



REPEAT_AT_FULL_SIZE = """
import nst_teach as nst
from nst_teach import data

base = nst.BOOK.replace(height=224, iterations=8, maxfun=20, backbone="hed-vgg16",
                        resample="bicubic")
photo, swirls = data.example("grace_hopper"), data.example("swirls")
nst.transfer(photo, swirls, base, optimizer="adam")
a, b, c = (nst.transfer(photo, swirls, base.replace(init="noise", seed=seed)) for seed in (7, 7, 8))
apart = lambda x, y: abs(x.image.astype(float) - y.image).mean()
print(a.history.n_evaluations, a.history.evaluations["total"][0] == b.history.evaluations["total"][0],
      a.history.evaluations["total"][0] != c.history.evaluations["total"][0], apart(a, b), apart(a, c))
"""


@pytest.mark.slow
def test_the_same_seed_starts_the_same_and_ends_alike_at_the_notebook_s_size():
    # What notebook 09, section 7 promises, at its full size (224 px, 8 x 20 evaluations),
    # after an Adam run in the same process: the same seed, the same start to the last bit and
    # pictures at most a quarter as far apart as two seeds' (measured: 0 to 2.4 grey levels per
    # pixel against 46.5); another seed, another start. (Bit for bit all the way is not promised:
    # a loss can differ in its last bit along the way, and L-BFGS grows that. Nor a final loss
    # within 2 %: once 3.1 % apart, while two seeds ended 2.1 % apart.)
    out = subprocess.run([sys.executable, "-c", REPEAT_AT_FULL_SIZE], capture_output=True,
                         text=True, timeout=1800, env={**os.environ, "NST_TEACH_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    evaluations, same_start, other_start, same_seed, other_seed = out.stdout.split()[-5:]
    assert int(evaluations) >= 160 and same_start == "True" and other_start == "True"
    assert float(same_seed) < float(other_seed) / 4


def test_a_save_prefix_that_cannot_be_written_fails_before_any_evaluation(tmp_path, photo):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where the prefix wants a folder")
    evaluations = []
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        transfer(photo, "swirls", FAST, save_prefix=blocker / "run", on_event=evaluations.append)
    assert evaluations == []


def test_a_round_that_cannot_be_saved_warns_and_the_run_goes_on(tmp_path, photo, monkeypatch):
    import errno

    real_save = images.save_image

    def disk_full_at_round_1(image, path):
        if str(path).endswith("_at_iteration_1.png"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(image, path)

    monkeypatch.setattr(images, "save_image", disk_full_at_round_1)
    with pytest.warns(RuntimeWarning, match="No space left on device"):
        result = transfer(photo, "swirls", FAST, save_prefix=tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_at_iteration_0.png", "run_at_iteration_2.png"]
    assert len(result.history.iteration_loss) == 3 and result.image.shape == (32, 27, 3)
