"""ModelConfig.sample_spaces: the rows each task averages over (impression, click, request, a boolean column)."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import names, sample_spaces, training
from mtl_keras.config import ModelConfig
from mtl_keras.models import build_model
from mtl_keras.synthetic import make_impressions

SMALL = dict(tower_units=[8], backbone={"name": "shared_bottom", "bottom_units": [8]}, seed=1)
ROWS = 60


@pytest.fixture(scope="module")
def frame_and_spec():
    frame, spec = make_impressions(ROWS, vocabulary_sizes=[10, 5], ctr=0.4, cvr=0.4, embedding_dim=4, seed=7)
    frame[names.P_WIN] = np.linspace(0.02, 0.9, ROWS).astype(np.float32)
    frame["randomised"] = np.arange(ROWS) % 3 != 0
    return frame, spec


def _model(config):
    model = build_model(config, compile=False)
    model(model.dummy_features())
    return model


def _batch(frame, config):
    return {k: tf.constant(v) for k, v in training.prepare(frame, config).items()}


def _loss_and_grads(model, batch):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=False)
    grads = tape.gradient(loss, model.trainable_variables)
    return loss.numpy(), [np.zeros(v.shape) if g is None else tf.convert_to_tensor(g).numpy()
                          for g, v in zip(grads, model.trainable_variables)]


def _bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@pytest.mark.parametrize("objective", ["esmm", "escm2_ips", "escm2_dr"])
@pytest.mark.parametrize("win", [None, True, False])  # no win weighting; self-normalised; raw 1/p_win
def test_a_column_space_for_every_task_equals_training_on_those_rows(frame_and_spec, objective, win):
    frame, spec = frame_and_spec
    extra = {} if win is None else dict(win_weighting=True, win_self_normalize=win)
    spaced = ModelConfig(features=spec, objective=objective, sample_spaces={"*": "randomised"}, **SMALL, **extra)
    plain = ModelConfig(features=spec, objective=objective, **SMALL, **extra)
    model = _model(plain)
    expected, expected_grads = _loss_and_grads(model, _batch(frame[frame["randomised"]], plain))
    model.model_config = spaced
    batch = _batch(frame, spaced)
    # Rows outside every task's space are dropped: no masks needed.
    assert len(batch[names.CLICK]) == frame["randomised"].sum()
    assert not any(k.startswith("__space_mask") for k in batch)
    loss, grads = _loss_and_grads(model, batch)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    for g, g_expected in zip(grads, expected_grads):
        np.testing.assert_allclose(g, g_expected, rtol=1e-4, atol=1e-7)


def _task_losses(model, batch):
    internal = model.logits(batch)
    weights = model.task_example_weights(batch)
    return {t: task(batch, internal, weights[t][0], compute_metrics=False) for t, task in model.tasks.items()}


@pytest.mark.parametrize("objective", ["esmm", "escm2_ips"])
@pytest.mark.parametrize("win", [None, True, False])
def test_a_masked_task_equals_that_task_on_its_rows(frame_and_spec, objective, win):
    frame, spec = frame_and_spec
    extra = {} if win is None else dict(win_weighting=True, win_self_normalize=win)
    spaces = {names.CTR: "randomised", names.CTCVR: "randomised", names.CVR: "impression"}
    spaced = ModelConfig(features=spec, objective=objective, sample_spaces=spaces, **SMALL, **extra)
    plain = ModelConfig(features=spec, objective=objective, **SMALL, **extra)
    model = _model(plain)
    subset = _batch(frame[frame["randomised"]], plain)
    model.model_config = spaced
    batch = _batch(frame, spaced)
    assert len(batch[names.CLICK]) == ROWS  # the CVR task reads every impression: the others are masked
    for task in (names.CTR, names.CTCVR):
        np.testing.assert_array_equal(batch[sample_spaces.mask_column(task)].numpy(), frame["randomised"])
        with tf.GradientTape(persistent=True) as tape:
            expected = _task_losses(model, subset)[task]
            got = _task_losses(model, batch)[task]
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)
        for g, g_expected in zip(tape.gradient(got, model.trainable_variables),
                                 tape.gradient(expected, model.trainable_variables)):
            if g_expected is not None:
                np.testing.assert_allclose(tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(g_expected).numpy(),
                                           rtol=1e-4, atol=1e-7)


def test_naive_cvr_on_a_randomised_slice_reads_every_row_of_it(frame_and_spec):
    frame, spec = frame_and_spec
    config = ModelConfig(features=spec, objective="naive", sample_spaces={names.CVR: "randomised"}, **SMALL)
    model = _model(config)
    batch = _batch(frame, config)
    assert set(batch) >= {sample_spaces.mask_column(names.CVR)}
    assert sample_spaces.mask_column(names.CTR) not in batch  # CTR keeps every impression
    internal = model.logits(batch)
    weights = model.task_example_weights(batch)
    task = model.tasks[names.CVR]
    loss = task(batch, internal, weights[names.CVR][0]).numpy()
    rows = frame["randomised"].to_numpy()
    p_cvr = model(batch)[names.P_CVR].numpy().ravel()
    conversion = frame[names.CONVERSION].to_numpy(np.float64)
    # Unclicked rows of the slice count (their conversion label is read as observed).
    assert (frame.loc[rows, names.CLICK] == 0).any()
    np.testing.assert_allclose(loss, _bce(conversion, p_cvr)[rows].mean(), rtol=1e-5)
    np.testing.assert_allclose(task.log_loss.result().numpy(), _bce(conversion, p_cvr)[rows].mean(), rtol=1e-4)


def test_request_space_keeps_lost_auctions_and_skips_their_win_weights(frame_and_spec):
    frame, spec = frame_and_spec
    frame = frame.copy()
    won = np.arange(ROWS) % 4 != 0
    frame[names.WON] = won.astype(int)
    frame.loc[~won, [names.CLICK, names.CONVERSION]] = 0
    default = ModelConfig(features=spec, objective="esmm", win_weighting=True, **SMALL)
    assert len(training.prepare(frame, default)[names.CLICK]) == won.sum()  # lost requests dropped
    config = ModelConfig(features=spec, objective="esmm", win_weighting=True, win_propensity_floor=0.1,
                         win_weight_clip=5.0, sample_spaces={names.CTR: "request"}, **SMALL)
    model = _model(config)
    batch = _batch(frame, config)
    assert len(batch[names.CLICK]) == ROWS
    internal = model.logits(batch)
    weights = model.task_example_weights(batch)
    losses = {t: task(batch, internal, weights[t][0], compute_metrics=False).numpy() for t, task in model.tasks.items()}
    out = {k: v.numpy().ravel() for k, v in model(batch).items()}
    click, conversion = frame[names.CLICK].to_numpy(float), frame[names.CONVERSION].to_numpy(float)
    np.testing.assert_allclose(losses[names.CTR], _bce(click, out[names.P_CTR]).mean(), rtol=1e-5)
    w = np.minimum(1 / np.maximum(frame[names.P_WIN].to_numpy(float), 0.1), 5.0) * won
    ctcvr = _bce(click * conversion, out[names.P_CTCVR])
    np.testing.assert_allclose(losses[names.CTCVR], (w * ctcvr).sum() / w.sum(), rtol=1e-4)


def test_request_space_trains_with_fit(frame_and_spec):
    frame, spec = frame_and_spec
    frame = frame.copy()
    frame[names.WON] = (np.arange(ROWS) % 4 != 0).astype(int)
    frame.loc[frame[names.WON] == 0, [names.CLICK, names.CONVERSION]] = 0
    config = ModelConfig(features=spec, objective="escm2_ips", batch_size=16, epochs=1,
                         sample_spaces={names.CTR: "request"}, **SMALL)
    model, history = training.train(config, frame, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_config_round_trips_and_rejects_bad_spaces(frame_and_spec):
    _, spec = frame_and_spec
    config = ModelConfig(features=spec, objective="naive", sample_spaces={"cvr": "randomised", "ctr": "request"})
    assert ModelConfig.from_json(config.to_json()).sample_spaces == {"cvr": "randomised", "ctr": "request"}
    with pytest.raises(ValueError, match="names task 'ctcvr'.*its tasks are"):
        ModelConfig(features=spec, objective="naive", sample_spaces={"ctcvr": "request"})
    with pytest.raises(ValueError, match="gives task 'ctr'.*'click' space"):
        ModelConfig(features=spec, objective="esmm", sample_spaces={"ctr": "click"})
    with pytest.raises(ValueError, match="gives task 'cvr' of objective 'escm2_ips' the 'click' space"):
        ModelConfig(features=spec, objective="escm2_ips", sample_spaces={"cvr": "click"})
    with pytest.raises(ValueError, match=r"sample_spaces\['ctr'\] must be"):
        ModelConfig(features=spec, objective="naive", sample_spaces={"ctr": 3})
    with pytest.raises(ValueError, match="must be a dict"):
        ModelConfig(features=spec, objective="naive", sample_spaces="request")
    ModelConfig(features=spec, objective="naive", sample_spaces={"cvr": "click"})  # its default, allowed


@pytest.mark.parametrize("values, message", [
    (lambda n: np.linspace(0, 1, n), "must be boolean"),
    (lambda n: np.where(np.arange(n) % 2 == 0, 1.0, np.nan), "must be boolean"),
    (lambda n: np.array(["yes"] * n), "must be boolean"),
    (None, "is not a column of the data"),
    (lambda n: np.zeros(n, bool), "no row where column 'slice' is true"),
])
def test_bad_space_column_names_the_column(frame_and_spec, values, message):
    frame, spec = frame_and_spec
    frame = frame.copy()
    if values is not None:
        frame["slice"] = values(ROWS)
    config = ModelConfig(features=spec, objective="naive", sample_spaces={"cvr": "slice"}, **SMALL)
    with pytest.raises(ValueError, match=f"'slice'.*{message}|{message}.*'slice'"):
        training.prepare(frame, config)


def test_funnel_columns_are_checked_before_rows_are_chosen(frame_and_spec):
    frame, spec = frame_and_spec
    config = ModelConfig(features=spec, objective="esmm", **SMALL)
    bad = frame.copy()
    bad[names.WON] = 1
    bad.loc[3, names.WON] = 2
    with pytest.raises(ValueError, match="'won' must hold only 0.*1 of 60 rows"):
        training.prepare(bad, config)
    bad[names.WON] = 1
    bad.loc[bad[names.CLICK] == 1, names.WON] = 0
    with pytest.raises(ValueError, match="click=1 on a lost auction"):
        training.prepare(bad, config)
    pd.testing.assert_frame_equal(frame, frame_and_spec[0])  # inputs are not modified
