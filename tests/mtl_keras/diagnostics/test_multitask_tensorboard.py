"""MultiTaskTensorBoard writes the per-task metrics, task weights and gate usage read back from the event files."""
import dataclasses
import glob
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mtl_keras import data as data_module
from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.diagnostics import MultiTaskTensorBoard, gate_usage
from mtl_keras.features import CategoricalFeature
from mtl_keras.models import build_model
from mtl_keras.synthetic import make_impressions
from mtl_keras.vocabulary import learn_vocabularies


def _scalars(run_dir):
    """tag -> {step: value} of every event file under run_dir."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                out.setdefault(value.tag, {})[event.step] = number
    return out


@pytest.fixture(scope="module")
def data():
    frame, spec = make_impressions(1500, vocabulary_sizes=[20, 10], num_dense=2, embedding_dim=4, ctr=0.2,
                                   cvr=0.3, seed=0)
    # c0 learns its vocabulary while training: the sample rows are encoded with the trained model's.
    spec = dataclasses.replace(spec, categorical=(CategoricalFeature("c0", embedding_dim=4, num_oov_buckets=1),
                                                  *spec.categorical[1:]))
    train, test = training.split(frame, 0.3, seed=0)
    return train, test, spec


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    """Two epochs of an MMoE with uncertainty weighting, next to keras' own TensorBoard on the same dir;
    gate usage on 64 raw rows."""
    train, test, spec = data
    log_dir = str(tmp_path_factory.mktemp("tb"))
    sample = test.head(64)
    config = ModelConfig(features=spec, objective="esmm", batch_size=512, epochs=2, tower_units=[4],
                         weighting="uncertainty", backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]})
    callbacks = [MultiTaskTensorBoard(log_dir, sample_features=sample),
                 keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0)]
    model, history = training.train(config, train, test, verbose=0, callbacks=callbacks)
    return model, history, log_dir, sample


def test_every_logged_metric_is_written_by_task_for_train_and_validation(fitted):
    _, history, log_dir, _ = fitted
    train, validation = _scalars(os.path.join(log_dir, "train")), _scalars(os.path.join(log_dir, "validation"))
    for task in (names.CTR, names.CVR, names.CTCVR):
        for metric in ("loss", "auc", "log_loss", "ece", "calibration_ratio"):
            tag = f"{task}/{metric}"
            assert set(train[tag]) == set(validation[tag]) == {0, 1}, tag
            np.testing.assert_allclose(train[tag][1], history.history[f"{task}_{metric}"][1], rtol=1e-6)
            np.testing.assert_allclose(validation[tag][1], history.history[f"val_{task}_{metric}"][1], rtol=1e-6)
    assert set(train["overall/loss"]) == {0, 1} and set(validation["overall/loss"]) == {0, 1}
    # Composed with keras' TensorBoard: its epoch_* tags sit next to these ones.
    assert "epoch_loss" in train and "epoch_ctr_auc" in validation


def test_task_weights_are_the_effective_uncertainty_weights(fitted):
    model, _, log_dir, _ = fitted
    train = _scalars(os.path.join(log_dir, "train"))
    weighting = model.task_weighting
    for task in weighting.task_names:
        s = float(weighting.log_variances[task].numpy())
        assert train[f"task_log_variances/{task}"][1] == pytest.approx(s, abs=1e-6)
        expected = weighting.task_weights[task] * np.exp(-s)
        assert train[f"task_weights/{task}"][1] == pytest.approx(expected, rel=1e-6)
    moved = [t for t in weighting.task_names if abs(train[f"task_log_variances/{t}"][1]) > 0]
    assert moved, "uncertainty weighting learned nothing in two epochs"


def test_gate_usage_is_written_on_the_sample_batch(fitted):
    model, _, log_dir, sample = fitted
    train = _scalars(os.path.join(log_dir, "train"))
    usage = gate_usage(model, sample)  # the weights after the last epoch
    assert model.model_config.features.categorical[0].vocabulary is not None
    assert usage == gate_usage(model, data_module.to_arrays(sample, model.model_config.features))
    for tower in (names.CTR, names.CVR):
        experts = [train[f"gates/{tower}/expert_{i}"] for i in range(2)]
        assert all(set(e) == {0, 1} for e in experts)
        assert experts[0][1] + experts[1][1] == pytest.approx(1.0, abs=1e-6)
        assert experts[0][1] == pytest.approx(usage["mean"][tower]["expert_0"], rel=1e-5)
        assert train[f"gates/{tower}/entropy"][1] == pytest.approx(usage["entropy"][tower], rel=1e-5)
    assert not any(tag.startswith("gates/") for tag in _scalars(os.path.join(log_dir, "validation")))


def test_shared_bottom_logs_fixed_weights_and_no_gates(data, tmp_path):
    train, test, spec = data
    spec = learn_vocabularies(spec, train)
    config = ModelConfig(features=spec, objective="esmm", tower_units=[4], task_weights={"ctr": 2.0},
                         backbone={"name": "shared_bottom", "bottom_units": [8]})
    model = build_model(config)
    callback = MultiTaskTensorBoard(str(tmp_path), sample_features={c: test[c].to_numpy()[:8] for c in spec.names})
    callback.set_model(model)  # what fit does, without spending a fit on it
    callback.on_train_begin()
    callback.on_epoch_end(0, {"ctr_auc": 0.7, "val_ctcvr_ece": 0.01, "loss": 1.5, "note": "text"})
    callback.on_train_end()
    train, validation = _scalars(str(tmp_path / "train")), _scalars(str(tmp_path / "validation"))
    assert train == {"ctr/auc": {0: pytest.approx(0.7)}, "overall/loss": {0: 1.5}, "task_weights/ctr": {0: 2.0},
                     "task_weights/ctcvr": {0: 1.0}, "task_weights/cvr": {0: 0.0}}  # ESMM: CVR via CTCVR only
    assert validation == {"ctcvr/ece": {0: pytest.approx(0.01)}}


def test_bad_input_names_the_field_and_the_fix(data, tmp_path):
    train, test, spec = data
    spec = learn_vocabularies(spec, train)
    with pytest.raises(ValueError, match="`sample_features` must be a non-empty dict"):
        MultiTaskTensorBoard(str(tmp_path), sample_features=[1, 2])
    with pytest.raises(ValueError, match="`sample_features` must be a non-empty dict"):
        MultiTaskTensorBoard(str(tmp_path), sample_features=test.head(0))
    with pytest.raises(ValueError, match="`gates_every` must be an int >= 1"):
        MultiTaskTensorBoard(str(tmp_path), gates_every=0)
    with pytest.raises(ValueError, match="`log_dir` must be a directory path"):
        MultiTaskTensorBoard("")
    callback = MultiTaskTensorBoard(str(tmp_path))
    callback.set_model(keras.Sequential([keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="use keras.callbacks.TensorBoard for other models"):
        callback.on_train_begin()
    config = ModelConfig(features=spec, objective="esmm", tower_units=[4],
                         backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]})
    callback = MultiTaskTensorBoard(str(tmp_path), sample_features={"c0": test["c0"].to_numpy()[:8]})
    callback.set_model(build_model(config))
    with pytest.raises(ValueError, match=r"lacks the model's features \['c1', 'd0', 'd1'\]"):
        callback.on_train_begin()
