"""Task sets: the single-task objectives `ctr` and `cvr` build only their tower, read only their label."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.models import MultiTaskModel, build_model
from mtl_keras.objectives import OBJECTIVES
from mtl_keras.synthetic import make_impressions

SMALL = dict(batch_size=512, epochs=2, learning_rate=0.01, tower_units=[8],
             backbone={"name": "mmoe", "num_experts": 2, "expert_units": [16]})
BACKBONES = [{"name": "shared_bottom", "bottom_units": [8]}, {"name": "mmoe", "num_experts": 2, "expert_units": [8]},
             {"name": "ple", "num_levels": 2, "num_shared_experts": 1, "num_task_experts": 1, "expert_units": [8]}]


@pytest.fixture(scope="module")
def data():
    frame, spec = make_impressions(16000, vocabulary_sizes=[50, 20, 10, 5], ctr=0.2, cvr=0.3, embedding_dim=4, seed=0)
    train, test = training.split(frame, 0.3, seed=0)
    return train, test, spec


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _train_and_capture(config, frame):
    """Trains and returns (model, history, "Gradients do not exist" warnings of the tensorflow logger)."""
    handler = _Records()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        model, history = training.train(config, frame, verbose=0)
    finally:
        logger.removeHandler(handler)
    return model, history, [m for m in handler.messages if "Gradients do not exist" in m]


def _features(frame, spec, n=32):
    return {c: tf.constant(frame[c].to_numpy()[:n]) for c in spec.names}


def test_objectives_declare_their_labels_and_towers():
    assert OBJECTIVES["ctr"].towers == (names.CTR,) and OBJECTIVES["ctr"].labels == (names.CLICK,)
    assert OBJECTIVES["cvr"].towers == (names.CVR,) and OBJECTIVES["cvr"].labels == (names.CONVERSION,)
    for name in ("naive", "esmm", "escm2_ips", "escm2_dr"):
        assert OBJECTIVES[name].labels == (names.CLICK, names.CONVERSION)


@pytest.mark.parametrize("objective, columns", [("ctr", [names.CLICK]), ("cvr", [names.CONVERSION])])
def test_single_task_config_round_trips_and_reads_only_its_label(data, objective, columns):
    _, _, spec = data
    config = ModelConfig(features=spec, objective=objective, **SMALL)
    assert config.tower_names == [objective] and config.task_names == [objective]
    assert config.data_columns == columns
    assert ModelConfig(features=spec, objective=objective, win_weighting=True).data_columns == columns + [names.P_WIN]
    again = ModelConfig.from_json(config.to_json())
    assert again == config and again.objective.name == objective
    with pytest.raises(ValueError, match="does not have"):
        ModelConfig(features=spec, objective=objective, task_weights={names.CTCVR: 1.0})


@pytest.mark.parametrize("backbone", BACKBONES, ids=[b["name"] for b in BACKBONES])
@pytest.mark.parametrize("objective, output", [("ctr", names.P_CTR), ("cvr", names.P_CVR)])
def test_single_task_model_builds_one_tower_and_one_output(data, backbone, objective, output):
    _, test, spec = data
    model = build_model(ModelConfig(features=spec, objective=objective, **{**SMALL, "backbone": backbone}))
    outputs = model(_features(test, spec))
    assert set(outputs) == {output} and outputs[output].shape == (32, 1)
    assert [t.name for t in model.towers] == [f"{objective}_tower"]
    other = "cvr" if objective == "ctr" else "ctr"
    assert any(f"{objective}_tower" in v.name for v in model.trainable_variables)
    assert not any(f"{other}_tower" in v.name for v in model.variables)
    # Keras config round trip gives the same model shape and numbers.
    clone = MultiTaskModel.from_config(model.get_config())
    clone(clone.dummy_features())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(_features(test, spec))[output].numpy(), outputs[output].numpy(), rtol=1e-6)


def test_ctr_only_trains_without_conversion_column_and_without_gradient_warnings(data):
    train, test, spec = data
    config = ModelConfig(features=spec, objective="ctr", **SMALL)
    model, history, warnings = _train_and_capture(config, train.drop(columns=[names.CONVERSION]))
    assert warnings == []
    assert not any("cvr" in v.name or "ctcvr" in v.name for v in model.variables)
    assert {k for k in history.history if k.endswith("_loss") and k != "total_loss"} == {
        "ctr_loss", "ctr_log_loss", "regularization_loss"}
    report = training.evaluate(model, test.drop(columns=[names.CONVERSION]))
    assert set(report) == {names.CTR}
    assert report[names.CTR]["count"] == len(test) and report[names.CTR]["auc"] > 0.65, report
    assert set(training.predict(model, test)) == {names.P_CTR}


def test_cvr_only_trains_on_clicked_rows_without_click_column(data, caplog):
    train, test, spec = data
    # About 2,300 clicks: more passes over smaller batches than the impression-space tests.
    config = ModelConfig(features=spec, objective="cvr", **{**SMALL, "epochs": 10, "batch_size": 256})
    clicks = train[train[names.CLICK] == 1].drop(columns=[names.CLICK]).reset_index(drop=True)
    model, _, warnings = _train_and_capture(config, clicks)
    assert warnings == []
    assert not any("ctr" in v.name for v in model.variables)
    report = training.evaluate(model, test)  # has a click column: scored on its clicks
    assert set(report) == {names.CVR}
    assert report[names.CVR]["count"] == int(test[names.CLICK].sum()) and report[names.CVR]["auc"] > 0.6, report
    test_clicks = test[test[names.CLICK] == 1].drop(columns=[names.CLICK])
    assert training.evaluate(model, test_clicks)[names.CVR] == report[names.CVR]  # a log of clicks: every row

    # An impression log gives the same training rows: its click=0 rows are dropped, with the count logged.
    with caplog.at_level(logging.WARNING, logger="mtl_keras.training"):
        arrays = training.prepare(train, config)
    dropped = int((train[names.CLICK] == 0).sum())
    assert f"dropped {dropped} of {len(train)} rows with click=0" in caplog.text
    assert set(arrays) == set(spec.names) | {names.CONVERSION}
    np.testing.assert_array_equal(arrays[names.CONVERSION], clicks[names.CONVERSION].to_numpy(np.float32))


def test_cvr_only_rejects_a_bad_click_column_and_missing_labels(data):
    train, _, spec = data
    config = ModelConfig(features=spec, objective="cvr", **SMALL)
    bad = train.head(200).copy()
    bad.loc[bad[names.CLICK] == 0, names.CONVERSION] = 1
    with pytest.raises(ValueError, match="conversion=1 but click=0"):
        training.prepare(bad, config)
    with pytest.raises(ValueError, match="no click=1"):
        training.prepare(train.head(200).assign(**{names.CLICK: 0, names.CONVERSION: 0}), config)
    with pytest.raises(ValueError, match="'conversion' is missing"):
        training.prepare(train.drop(columns=[names.CONVERSION]), config)
    with pytest.raises(ValueError, match="'click' is missing"):
        training.prepare(train.drop(columns=[names.CLICK]), ModelConfig(features=spec, objective="ctr", **SMALL))
    with pytest.raises(ValueError, match="'conversion' is missing"):
        training.evaluate(build_model(config), train.drop(columns=[names.CONVERSION]))


def test_esmm_with_fixed_weights_gets_cvr_gradients_through_ctcvr(data):
    """λ_cvr = 0 in ESMM, but the CVR tower still learns through pCTCVR: no gradient warning."""
    train, _, spec = data
    config = ModelConfig(features=spec, objective="esmm", **{**SMALL, "epochs": 1})
    _, _, warnings = _train_and_capture(config, train.head(2048))
    assert warnings == []
