"""Each fit function of training_strategies on a tiny Keras model, under the default strategy.

The branches differ in how they feed `fit` (repeat, step count, DatasetCreator), which the default
strategy shows; test_multi_worker.py runs them in real multi-worker and parameter-server clusters.
"""
import mtl_keras  # noqa: F401  (tf.keras is tf_keras before TensorFlow loads)
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfx_pipeline import training_strategies as ts

BATCHES = 3  # per pass of the data below: 10 rows in batches of 4


class FakeData:
    """A dataset_fn with trainer.make_dataset's keywords that records how it was called."""

    def __init__(self):
        self.calls = []

    def __call__(self, shuffle, seeded=True):
        self.calls.append({"shuffle": shuffle, "seeded": seeded})
        x = np.arange(10, dtype=np.float32).reshape(-1, 1)
        dataset = tf.data.Dataset.from_tensor_slices((x, 2 * x))
        if shuffle:
            dataset = dataset.shuffle(10, seed=1 if seeded else None)
        return dataset.batch(4)


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.001), loss="mse")
    return model


def _steps(fit, data, steps_per_epoch, epochs=2):
    model = _model()
    history = fit(model, data, steps_per_epoch, epochs=epochs, verbose=0)
    assert len(history.history["loss"]) == epochs and np.isfinite(history.history["loss"]).all()
    return int(model.optimizer.iterations.numpy())


def test_single_process_makes_one_pass_per_epoch_unless_steps_are_fixed():
    data = FakeData()
    assert _steps(ts.fit_single_process, data, None) == 2 * BATCHES
    # More steps than one pass holds: the data repeat.
    assert _steps(ts.fit_single_process, data, 5) == 2 * 5
    assert data.calls == [{"shuffle": True, "seeded": True}] * 2


def test_multi_worker_counts_one_pass_up_front_and_repeats():
    data = FakeData()
    assert _steps(ts.fit_multi_worker, data, None) == 2 * BATCHES
    assert {"shuffle": False, "seeded": True} in data.calls  # the count, on an unshuffled pass
    data.calls.clear()
    assert _steps(ts.fit_multi_worker, data, 5) == 2 * 5
    assert data.calls == [{"shuffle": True, "seeded": True}]  # no count needed


def test_parameter_server_feeds_an_unseeded_endless_input_per_worker():
    data = FakeData()
    assert _steps(ts.fit_parameter_server, data, None) == 2 * BATCHES
    assert _steps(ts.fit_parameter_server, data, 5) == 2 * 5
    # Each worker's input shuffles with its own run-time seed (see per_worker_dataset).
    assert {"shuffle": True, "seeded": False} in data.calls
    assert {"shuffle": True, "seeded": True} not in data.calls


def test_fit_for_picks_the_single_process_branch_without_a_cluster():
    assert ts.fit_for(tf.distribute.get_strategy()) is ts.fit_single_process
    assert ts.count_batches(FakeData()) == BATCHES


@pytest.mark.parametrize("fit", [ts.fit_single_process, ts.fit_multi_worker, ts.fit_parameter_server])
def test_fit_args_reach_keras(fit):
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    fit(_model(), FakeData(), 2, epochs=3, verbose=0, callbacks=[Record()])
    assert seen == [0, 1, 2]
