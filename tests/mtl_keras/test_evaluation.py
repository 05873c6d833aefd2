"""training.evaluate in every space, weighted and unweighted, against numpy computed here by hand;
training.predict with one trace for any length."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import evaluation, names, training
from mtl_keras.config import ModelConfig
from mtl_keras.synthetic import make_impressions

SMALL = dict(batch_size=256, epochs=1, learning_rate=0.02, tower_units=[8],
             backbone={"name": "mmoe", "num_experts": 2, "expert_units": [16]})


@pytest.fixture(scope="module")
def setup():
    frame, spec = make_impressions(3400, vocabulary_sizes=[50, 20, 10], ctr=0.2, cvr=0.3, embedding_dim=4, seed=2)
    model, _ = training.train(ModelConfig(features=spec, **SMALL), frame.iloc[:3000], verbose=0)
    test = frame.iloc[3000:].reset_index(drop=True)  # 400 rows
    rng = np.random.default_rng(7)
    test["w"] = np.where(rng.random(len(test)) < 0.1, 0.0, rng.uniform(0.1, 3.0, len(test)))
    test["pick"] = rng.random(len(test)) < 0.5
    # A randomised test set: conversion observed on every row, clicked or not.
    test["unbiased_conversion"] = (rng.random(len(test)) < 0.3).astype(int)
    return model, test


# Hand references: pairwise weighted AUC (ties 1/2), weighted log loss, one-bin ECE, calibration ratio.
def hand_auc(y, p, w):
    pos, neg = y == 1, y == 0
    wins = (p[pos][:, None] > p[neg][None, :]) + 0.5 * (p[pos][:, None] == p[neg][None, :])
    return np.sum(w[pos][:, None] * w[neg][None, :] * wins) / (w[pos].sum() * w[neg].sum())


def hand_metrics(y, p, w=None):
    y, p = y.astype(float), p.astype(float)
    w = np.ones_like(y) if w is None else w
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return {"count": len(y), "positives": int(y.sum()), "auc": hand_auc(y, p, w),
            "log_loss": np.sum(w * -(y * np.log(q) + (1 - y) * np.log(1 - q))) / w.sum(),
            "ece": abs(np.sum(w * (p - y))) / w.sum(), "calibration_ratio": np.sum(w * p) / np.sum(w * y)}


def check(report, expected):
    for task, values in expected.items():
        for key, value in values.items():
            assert report[task][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (task, key)


def predictions(model, rows):
    features = {c: tf.constant(rows[c].to_numpy()) for c in model.model_config.features.names}
    return {k: v.numpy().reshape(-1) for k, v in model(features).items()}


@pytest.mark.parametrize("weighted", [False, True])
def test_impression_space_is_ctr_ctcvr_on_impressions_and_cvr_on_clicks(setup, weighted):
    model, test = setup
    frame = test.copy()
    frame[names.WON] = 1
    lost = pd.DataFrame({**{c: frame[c].iloc[:30].to_numpy() for c in frame.columns}, names.WON: 0,
                         names.CLICK: np.nan, names.CONVERSION: np.nan})
    frame = pd.concat([frame, lost], ignore_index=True)  # lost requests: no labels, not scored
    report = training.evaluate(model, frame, weights="w" if weighted else None, num_bins=1)
    p = predictions(model, test)
    click, conv = test[names.CLICK].to_numpy(), test[names.CONVERSION].to_numpy()
    w = test["w"].to_numpy() if weighted else None
    clicked = click == 1
    check(report, {names.CTR: hand_metrics(click, p[names.P_CTR], w),
                   names.CTCVR: hand_metrics(click * conv, p[names.P_CTCVR], w),
                   names.CVR: hand_metrics(conv[clicked], p[names.P_CVR][clicked],
                                           None if w is None else w[clicked])})
    assert ("weight" in report[names.CTR]) == weighted
    if weighted:
        assert report[names.CVR]["weight"] == pytest.approx(w[clicked].sum())
    # The default space and bins reproduce the pre-space report.
    assert training.evaluate(model, test)[names.CVR]["count"] == int(clicked.sum())


@pytest.mark.parametrize("weighted", [False, True])
def test_all_space_scores_every_task_on_every_row(setup, weighted):
    model, test = setup
    frame = test.copy()
    frame[names.CONVERSION] = frame["unbiased_conversion"]  # conversions without clicks are fine here
    report = training.evaluate(model, frame, space="all", weights="w" if weighted else None, num_bins=1)
    p = predictions(model, frame)
    click, conv = frame[names.CLICK].to_numpy(), frame[names.CONVERSION].to_numpy()
    w = frame["w"].to_numpy() if weighted else None
    check(report, {names.CTR: hand_metrics(click, p[names.P_CTR], w),
                   names.CTCVR: hand_metrics(click * conv, p[names.P_CTCVR], w),
                   names.CVR: hand_metrics(conv, p[names.P_CVR], w)})
    assert report[names.CVR]["count"] == len(frame)
    default = training.evaluate(model, test, num_bins=1)
    assert default[names.CVR]["count"] < len(frame) and default[names.CTR] == pytest.approx(
        training.evaluate(model, test, space="all", num_bins=1)[names.CTR])


def test_column_space_scores_the_selected_rows_and_ece_bins_are_equal_mass(setup):
    model, test = setup
    report = training.evaluate(model, test, space="pick", weights="w", num_bins=1)
    rows = test[test["pick"]].reset_index(drop=True)
    p, w = predictions(model, rows), rows["w"].to_numpy()
    click, conv = rows[names.CLICK].to_numpy(), rows[names.CONVERSION].to_numpy()
    check(report, {names.CTR: hand_metrics(click, p[names.P_CTR], w),
                   names.CVR: hand_metrics(conv, p[names.P_CVR], w)})
    # Four equal-count bins of the 400 rows sorted by prediction: Σ_b |Σ_b (p − y)| / n.
    p_all, y = predictions(model, test)[names.P_CTR].astype(float), test[names.CLICK].to_numpy()
    order = np.argsort(p_all, kind="mergesort")
    gaps = (p_all[order] - y[order]).reshape(4, 100).sum(axis=1)
    assert training.evaluate(model, test, space="all", num_bins=4)[names.CTR]["ece"] == pytest.approx(
        np.abs(gaps).sum() / 400, rel=1e-9)


def test_predict_traces_once_for_any_length_and_matches_the_model(setup):
    model, test = setup
    for n, batch_size in ((400, 64), (17, 64), (1, 8192), (0, 5), (399, 100)):
        out = training.predict(model, test.iloc[:n], batch_size=batch_size)
        assert set(out) == {names.P_CTR, names.P_CVR, names.P_CTCVR}
        assert all(isinstance(v, np.ndarray) and v.shape == (n,) for v in out.values())
    np.testing.assert_allclose(out[names.P_CTCVR], predictions(model, test.iloc[:399])[names.P_CTCVR], rtol=1e-6)
    assert evaluation._predict_function(model).experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="batch_size"):
        training.predict(model, test, batch_size=0)
