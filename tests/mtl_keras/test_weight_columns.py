"""ModelConfig.weight_columns: per-row importance weights per task, and the weighted_metrics contract."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.models import build_model
from mtl_keras.synthetic import make_impressions

SMALL = dict(tower_units=[8], backbone={"name": "shared_bottom", "bottom_units": [8]}, seed=1)
ROWS = 48


@pytest.fixture(scope="module")
def frame_and_spec():
    frame, spec = make_impressions(ROWS, vocabulary_sizes=[10, 5], ctr=0.4, cvr=0.4, embedding_dim=4, seed=3)
    frame[names.P_WIN] = np.linspace(0.02, 0.9, ROWS).astype(np.float32)
    frame["w"] = 1.0
    frame["v"] = 1.0
    # Row 0 is clicked, so the CVR losses see its weight too.
    frame.loc[0, names.CLICK] = 1
    return frame, spec


def _batch(frame, spec, config):
    arrays = training.prepare(frame, config)
    return {k: tf.constant(v) for k, v in arrays.items()}


def _loss_and_grads(model, batch):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=False)
    grads = tape.gradient(loss, model.trainable_variables)
    return loss.numpy(), [np.zeros(v.shape) if g is None else tf.convert_to_tensor(g).numpy()
                          for g, v in zip(grads, model.trainable_variables)]


def _task_losses(model, batch):
    internal = model.logits(batch)
    weights = model.task_example_weights(batch)
    return {t: task(batch, internal, weights[t][0], compute_metrics=False).numpy() for t, task in model.tasks.items()}


@pytest.mark.parametrize("objective", ["esmm", "escm2_ips", "escm2_dr", "naive"])
@pytest.mark.parametrize("win", [None, True, False])  # no win weighting; self-normalised; raw 1/p_win
def test_weight_two_equals_the_row_duplicated(frame_and_spec, objective, win):
    frame, spec = frame_and_spec
    extra = {} if win is None else dict(win_weighting=True, win_self_normalize=win)
    config = ModelConfig(features=spec, objective=objective, weight_columns={"*": "w"}, **SMALL, **extra)
    model = build_model(config, compile=False)
    model(model.dummy_features())
    duplicated = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    weighted = frame.copy()
    weighted.loc[0, "w"] = 2.0
    loss_dup, grads_dup = _loss_and_grads(model, _batch(duplicated, spec, config))
    loss_w, grads_w = _loss_and_grads(model, _batch(weighted, spec, config))
    np.testing.assert_allclose(loss_w, loss_dup, rtol=1e-5)
    assert any(np.abs(g).sum() > 0 for g in grads_w)
    for g_w, g_dup in zip(grads_w, grads_dup):
        np.testing.assert_allclose(g_w, g_dup, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("win", [False, True])
def test_unit_weight_column_changes_nothing(frame_and_spec, win):
    frame, spec = frame_and_spec
    plain = ModelConfig(features=spec, objective="escm2_dr", win_weighting=win, **SMALL)
    weighted = ModelConfig(features=spec, objective="escm2_dr", win_weighting=win, weight_columns={"*": "w"}, **SMALL)
    model = build_model(plain, compile=False)
    model(model.dummy_features())
    expected = model.compute_loss(_batch(frame, spec, plain)).numpy()
    model.model_config = weighted
    np.testing.assert_allclose(model.compute_loss(_batch(frame, spec, weighted)).numpy(), expected, rtol=1e-6)


def test_a_task_column_weights_only_that_task_and_star_weights_all(frame_and_spec):
    frame, spec = frame_and_spec
    frame = frame.copy()
    frame["v"] = np.where(np.arange(ROWS) % 2 == 0, 5.0, 0.5)
    plain = ModelConfig(features=spec, objective="esmm", **SMALL)
    model = build_model(plain, compile=False)
    model(model.dummy_features())
    base = _task_losses(model, _batch(frame, spec, plain))
    only_ctr = ModelConfig(features=spec, objective="esmm", weight_columns={names.CTR: "v"}, **SMALL)
    model.model_config = only_ctr
    per_task = _task_losses(model, _batch(frame, spec, only_ctr))
    assert not np.isclose(per_task[names.CTR], base[names.CTR])
    for task in set(base) - {names.CTR}:
        np.testing.assert_allclose(per_task[task], base[task], rtol=1e-6)
    # "*" weights every task; a task's own entry overrides it ("w" is all ones).
    star = ModelConfig(features=spec, objective="esmm", weight_columns={"*": "v", names.CTR: "w"}, **SMALL)
    model.model_config = star
    starred = _task_losses(model, _batch(frame, spec, star))
    np.testing.assert_allclose(starred[names.CTR], base[names.CTR], rtol=1e-6)
    for task in set(base) - {names.CTR}:
        assert not np.isclose(starred[task], base[task]), task
    assert set(star.data_columns) >= {"v", "w"}


@pytest.mark.parametrize("weighted_metrics", [False, True])
def test_weighted_metrics_is_an_explicit_option(frame_and_spec, weighted_metrics):
    frame, spec = frame_and_spec
    frame = frame.copy()
    frame["v"] = np.where(np.arange(ROWS) % 3 == 0, 10.0, 0.1)
    model = build_model(ModelConfig(features=spec, objective="esmm", **SMALL), compile=False)
    model(model.dummy_features())
    results = []
    for weight_columns in (None, {"*": "v"}):
        config = ModelConfig(features=spec, objective="esmm", weight_columns=weight_columns,
                             weighted_metrics=weighted_metrics, **SMALL)
        model.model_config = config
        model.reset_metrics()
        model.compute_loss(_batch(frame, spec, config))
        results.append({m.name: float(m.result()) for task in model.tasks.values()
                        for m in (task.log_loss, task.calibration_ratio)})
    unweighted, weighted = results
    changed = [k for k in unweighted if not np.isclose(unweighted[k], weighted[k], rtol=1e-6)]
    if weighted_metrics:
        assert len(changed) == len(unweighted), (unweighted, weighted)
    else:
        assert changed == [], (unweighted, weighted)


def test_config_rejects_unknown_tasks_and_round_trips(frame_and_spec):
    _, spec = frame_and_spec
    with pytest.raises(ValueError, match="'ctr_typo'.*'\\*'"):
        ModelConfig(features=spec, objective="esmm", weight_columns={"ctr_typo": "w"})
    with pytest.raises(ValueError, match="column name"):
        ModelConfig(features=spec, objective="esmm", weight_columns={"*": ""})
    with pytest.raises(ValueError, match="weighted_metrics"):
        ModelConfig(features=spec, objective="esmm", weighted_metrics="yes")
    config = ModelConfig(features=spec, objective="esmm", weight_columns={"*": "w"}, weighted_metrics=True)
    again = ModelConfig.from_json(config.to_json())
    assert again.weight_columns == {"*": "w"} and again.weighted_metrics is True


@pytest.mark.parametrize("value, match", [(-1.0, "negative"), (np.nan, "NaN"), (np.inf, "infinite")])
def test_bad_weight_values_name_the_column(frame_and_spec, value, match):
    frame, spec = frame_and_spec
    frame = frame.copy()
    frame["biz_weight"] = 1.0
    frame.loc[5, "biz_weight"] = value
    config = ModelConfig(features=spec, objective="esmm", weight_columns={"ctr": "biz_weight"})
    with pytest.raises(ValueError, match=f"'biz_weight'.*{match}"):
        training.prepare(frame, config)


@pytest.mark.parametrize("column, match", [
    (None, "not a column"),
    ("text", "numeric"),
    ("zero", "0 on every row"),
])
def test_bad_weight_columns_name_the_column(frame_and_spec, column, match):
    frame, spec = frame_and_spec
    frame = frame.copy()
    frame["text"] = "a"
    frame["zero"] = 0.0
    name = column or "missing"
    config = ModelConfig(features=spec, objective="esmm", weight_columns={"*": name})
    with pytest.raises(ValueError, match=f"'{name}'.*{match}"):
        training.prepare(frame, config)


@pytest.mark.parametrize("normalize_product", [False, True])
def test_numpy_twin_matches_and_feeds_the_estimators(frame_and_spec, normalize_product):
    from mtl_keras import estimators, row_weights

    frame, spec = frame_and_spec
    column = np.where(np.arange(ROWS) % 2 == 0, 3.0, 0.5)
    win = np.minimum(1.0 / np.maximum(frame[names.P_WIN].to_numpy(np.float64), 0.05), 20.0)
    np.testing.assert_allclose(row_weights.combine(tf.constant(win, tf.float32), column, normalize_product).numpy(),
                               row_weights.combine_np(win, column, normalize_product), rtol=1e-5)
    frame = frame.assign(v=column)
    config = ModelConfig(features=spec, objective="esmm", win_weighting=True, win_self_normalize=normalize_product,
                         weight_columns={"*": "v"}, **SMALL)
    model = build_model(config, compile=False)
    batch = _batch(frame, spec, config)
    outputs = model(batch)
    expected = estimators.ctr_risk(frame[names.CLICK].to_numpy(), outputs[names.P_CTR].numpy().ravel(),
                                   example_weight=row_weights.combine_np(win, column, normalize_product))
    np.testing.assert_allclose(_task_losses(model, batch)[names.CTR], expected, rtol=1e-4)
