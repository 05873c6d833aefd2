"""Learning-rate schedules, an explicit validation frame and early stopping on a task metric."""
import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.models import MultiTaskModel, build_model
from mtl_keras.optimizers import LazyAdam, WarmupCosineDecay, build_optimizer
from mtl_keras.schedules import CosineScheduleConfig, StepScheduleConfig
from mtl_keras.synthetic import make_impressions

SPEC = FeatureSpec(categorical=[CategoricalFeature("a", vocabulary_size=5)], numeric=[NumericFeature("x")])
SMALL = dict(batch_size=256, tower_units=[8], backbone={"name": "mmoe", "num_experts": 2, "expert_units": [16]},
             train_metrics=False)
COSINE = {"name": "cosine", "warmup_steps": 2, "alpha": 0.2}
STEP = {"name": "step", "every_steps": 3, "factor": 0.5}


@pytest.fixture(scope="module")
def data():
    frame, spec = make_impressions(6000, vocabulary_sizes=[300, 20, 10], ctr=0.15, cvr=0.3, embedding_dim=4, seed=5)
    return frame.iloc[:3000].reset_index(drop=True), frame.iloc[3000:].reset_index(drop=True), spec


def test_cosine_schedule_at_hand_computed_steps():
    # lr 0.1, 10 steps, 2 of warmup: s < 2 -> 0.1·(s+1)/2; then 0.1·(0.2 + 0.8·(1 + cos(π(s−2)/8))/2).
    schedule = CosineScheduleConfig(warmup_steps=2, alpha=0.2).build(0.1, total_steps=10)
    expected = {0: 0.05, 1: 0.1, 2: 0.1, 4: 0.1 * (0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2), 6: 0.06,
                9: 0.1 * (0.2 + 0.8 * (1 + math.cos(7 * math.pi / 8)) / 2), 10: 0.02, 50: 0.02}
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-6), step
    no_warmup = CosineScheduleConfig().build(0.1, total_steps=4)  # 0.1·(1 + cos(πs/4))/2
    assert [float(no_warmup(s)) for s in range(5)] == pytest.approx(
        [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05, 0.1 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0], abs=1e-8)


def test_step_schedule_at_hand_computed_steps():
    schedule = StepScheduleConfig(every_steps=3, factor=0.5).build(0.1)
    rates = [float(schedule(s)) for s in range(10)]
    assert rates == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125], rel=1e-6)


@pytest.mark.parametrize("optimizer", ["lazy_adam", "adam"])
@pytest.mark.parametrize("schedule", [COSINE, STEP])
def test_both_optimizers_step_at_the_scheduled_rate(optimizer, schedule):
    # A linear loss has a constant gradient, so every Adam step moves a variable by exactly the rate.
    config = ModelConfig(features=SPEC, optimizer=optimizer, learning_rate=0.1, learning_rate_schedule=schedule)
    opt = build_optimizer(config, total_steps=10)
    assert isinstance(opt, LazyAdam) == (optimizer == "lazy_adam")
    table, dense = tf.Variable(np.zeros([6, 2], np.float32)), tf.Variable([1.0, -2.0])
    moves = []
    for _ in range(8):
        before = dense.numpy().copy(), table.numpy().copy()
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(table, [1, 3])) + tf.reduce_sum(3.0 * dense)
        opt.apply_gradients(zip(tape.gradient(loss, [table, dense]), [table, dense]))
        moves.append((before[0] - dense.numpy(), before[1] - table.numpy()))
    schedule_fn = config.learning_rate_schedule.build(0.1, total_steps=10)
    for step, (dense_move, table_move) in enumerate(moves):
        rate = float(schedule_fn(step))
        np.testing.assert_allclose(dense_move, rate, rtol=1e-4)
        np.testing.assert_allclose(table_move[[1, 3]], rate, rtol=1e-4)  # the sparse (embedding) path
        np.testing.assert_array_equal(table_move[[0, 2, 4, 5]], 0.0)


def test_schedules_round_trip_through_json_model_config_and_saved_models(data, tmp_path):
    train_frame, test_frame, spec = data
    for schedule in (COSINE, STEP, "cosine", None):
        config = ModelConfig(features=SPEC, learning_rate_schedule=schedule)
        again = ModelConfig.from_json(config.to_json())
        assert again == config
        assert again.to_dict()["learning_rate_schedule"] == (None if schedule is None else
                                                             config.learning_rate_schedule.to_dict())
    config = ModelConfig(features=spec, epochs=1, learning_rate=0.05, learning_rate_schedule=COSINE, **SMALL)
    model, _ = training.train(config, train_frame, verbose=0)
    rebuilt = MultiTaskModel.from_config(model.get_config())
    assert rebuilt.model_config == config and rebuilt.model_config.learning_rate_schedule.alpha == 0.2
    steps = int(model.optimizer.iterations.numpy())
    assert steps == 12  # 3000 rows / 256: 12 batches, the cosine's total steps
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, WarmupCosineDecay) and schedule.decay_steps == 10
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    assert isinstance(copy, LazyAdam) and copy._learning_rate.get_config() == schedule.get_config()
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.model_config == config
    assert restored.optimizer._learning_rate.get_config() == schedule.get_config()
    # build_model needs the step count for a cosine schedule; train passes it.
    with pytest.raises(ValueError, match="total_steps"):
        build_model(config)
    with pytest.raises(ValueError, match="warmup_steps=2 leaves no step"):
        build_model(config, total_steps=2)


def test_default_config_keeps_a_constant_rate(data):
    config = ModelConfig(features=SPEC)
    assert config.learning_rate_schedule is None and config.early_stopping_metric == "loss"
    assert float(build_optimizer(config).learning_rate) == pytest.approx(1e-3)


class _Snapshots(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.parametrize("metric, best", [("ctcvr_log_loss", np.argmin), ("ctr_auc", np.argmax)])
def test_early_stopping_on_a_task_metric_restores_that_metrics_best_epoch(data, metric, best):
    train_frame, valid_frame, spec = data
    config = ModelConfig(features=spec, epochs=8, learning_rate=0.03, early_stopping_metric=metric,
                         early_stopping_patience=3, **SMALL)
    snapshots = _Snapshots()
    model, history = training.train(config, train_frame, validation_frame=valid_frame, verbose=0,
                                     callbacks=[snapshots])
    values = history.history[f"val_{metric}"]
    best_epoch = int(best(values))
    assert len(values) - 1 - best_epoch <= 3  # stopped at most `patience` epochs after the best
    assert best_epoch < len(values) - 1, values  # the setting overfits: restoring has to go back
    for restored, kept in zip(model.get_weights(), snapshots.weights[best_epoch]):
        np.testing.assert_array_equal(restored, kept)
    evaluated = model.evaluate(training.data.make_dataset(training.prepare(valid_frame, config), 4096),
                               verbose=0, return_dict=True)
    assert evaluated[metric] == pytest.approx(values[best_epoch], rel=1e-5)


def test_validation_frame_steers_and_conflicting_arguments_are_named(data):
    train_frame, valid_frame, spec = data
    config = ModelConfig(features=spec, epochs=1, intercept_refit_steps=5, **SMALL)
    _, history = training.train(config, train_frame, validation_frame=valid_frame, verbose=0)
    assert "val_loss" in history.history
    with pytest.raises(ValueError, match="validation_frame or validation_fraction"):
        training.train(ModelConfig(features=spec, validation_fraction=0.2, **SMALL), train_frame,
                       validation_frame=valid_frame, verbose=0)
    with pytest.raises(ValueError, match="validation_frame .* or eval_frame"):
        training.train(config, train_frame, valid_frame, validation_frame=valid_frame, verbose=0)
    with pytest.raises(ValueError, match="early_stopping_metric='ctr_auc' needs validation rows"):
        training.train(ModelConfig(features=spec, early_stopping_metric="ctr_auc", **SMALL), train_frame,
                       verbose=0)


@pytest.mark.parametrize("override, message", [
    ({"learning_rate_schedule": "linear"}, r"learning_rate_schedule must be one of \['cosine', 'step'\]"),
    ({"learning_rate_schedule": {"name": "cosine", "warmup_steps": -1}}, "'cosine': warmup_steps must be an int"),
    ({"learning_rate_schedule": {"name": "cosine", "alpha": 1.5}}, r"'cosine': alpha .* must be in \[0, 1\]"),
    ({"learning_rate_schedule": {"name": "cosine", "every_steps": 3}}, "'cosine' does not use the setting "
                                                                      "'every_steps'; it is a setting of"),
    ({"learning_rate_schedule": "step"}, "'step': every_steps .* must be an int >= 1, got None"),
    ({"learning_rate_schedule": {"name": "step", "every_steps": 5, "factor": 1.0}}, r"'step': factor .* \(0, 1\)"),
    ({"early_stopping_metric": "val_ctr_auc"}, "without the 'val_' prefix"),
    ({"early_stopping_metric": "ctr_calibration_ratio"}, "best at 1"),
    ({"early_stopping_metric": "ctcvr_auc", "objective": "naive"}, r"Objective 'naive' has the tasks \['ctr', 'cvr'\]"),
    ({"early_stopping_metric": "accuracy"}, "early_stopping_metric must be one of"),
])
def test_training_control_settings_are_checked_at_config_time(override, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(features=SPEC, **override)


def test_flat_schedule_settings_name_their_section():
    data = {**ModelConfig(features=SPEC).to_dict(), "warmup_steps": 10}
    with pytest.raises(ValueError, match="setting of the learning_rate_schedule section"):
        ModelConfig.from_dict(data)


def test_early_stopping_modes_cover_every_task_metric():
    config = ModelConfig(features=SPEC, objective="escm2_dr", early_stopping_metric="cvr_ece")
    assert config.early_stopping_metric == "cvr_ece"
    from mtl_keras import early_stopping
    assert {m: early_stopping.mode(m) for m in ("loss", "ctr_auc", "cvr_log_loss", "ctcvr_ece", "ctr_loss")} == {
        "loss": "min", "ctr_auc": "max", "cvr_log_loss": "min", "ctcvr_ece": "min", "ctr_loss": "min"}
    assert names.CTR in config.task_names
