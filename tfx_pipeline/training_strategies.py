"""How a Trainer replica runs `model.fit`, one function per tf.distribute setup; `fit_for` picks one.

Each takes the compiled model (built under its strategy's scope), a `dataset_fn(shuffle, seeded=True)`
returning one pass of training batches, and `steps_per_epoch` (None: one pass per epoch), and
returns the Keras History. Parameter-server workers and servers never get here: they only run a
tf.distribute.Server (see distribution.run_server).
"""
from __future__ import annotations

from typing import Callable, Optional

import tensorflow as tf
import tf_keras as keras

DatasetFn = Callable[..., tf.data.Dataset]  # (shuffle: bool, seeded: bool = True) -> one pass of batches
FitFn = Callable[..., keras.callbacks.History]


def fit_single_process(model: keras.Model, dataset_fn: DatasetFn, steps_per_epoch: Optional[int],
                       **fit_args) -> keras.callbacks.History:
    """The default strategy (one process, no cluster)."""
    # No validation pass: the Evaluator measures the eval split, per task and slice.
    train = dataset_fn(shuffle=True)
    if steps_per_epoch:  # a fixed number of steps may need more than one pass
        train = train.repeat()
    return model.fit(train, steps_per_epoch=steps_per_epoch, **fit_args)


def fit_multi_worker(model: keras.Model, dataset_fn: DatasetFn, steps_per_epoch: Optional[int],
                     **fit_args) -> keras.callbacks.History:
    """Synchronous replicas (MultiWorkerMirroredStrategy): every epoch has the same fixed length."""
    # Replicas must agree on the number of steps (uneven shards would stall the all-reduce),
    # so the data repeat and an epoch without a step count is one pass, counted up front.
    train = dataset_fn(shuffle=True).repeat()
    return model.fit(train, steps_per_epoch=steps_per_epoch or count_batches(dataset_fn), **fit_args)


def fit_parameter_server(model: keras.Model, dataset_fn: DatasetFn, steps_per_epoch: Optional[int],
                         **fit_args) -> keras.callbacks.History:
    """ParameterServerStrategy, on the chief (the coordinator)."""
    # Keras fit under PS takes a DatasetCreator: the coordinator builds one input pipeline
    # per worker and schedules steps on whichever worker is free, for a fixed number of steps.
    train = keras.utils.experimental.DatasetCreator(lambda context: per_worker_dataset(dataset_fn))
    return model.fit(train, steps_per_epoch=steps_per_epoch or count_batches(dataset_fn), **fit_args)


def fit_for(strategy: tf.distribute.Strategy) -> FitFn:
    """The fit function for `strategy` (from distribution.strategy_from_tf_config)."""
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        return fit_parameter_server
    if strategy.num_replicas_in_sync > 1:
        return fit_multi_worker
    return fit_single_process


def per_worker_dataset(dataset_fn: DatasetFn) -> tf.data.Dataset:
    """One PS worker's endless input (Keras traces this once; every worker runs the same graph).

    PS gives the pipeline no worker index to shard by, so each worker shuffles in its own order:
    with no seed in the traced graph, the shuffle draws one at run time on each worker. A seeded
    shuffle would have every worker train on the same batches at the same time.
    """
    tf.random.set_seed(None)  # in this traced graph only: the global seed stays set
    return dataset_fn(shuffle=True, seeded=False).repeat()


def count_batches(dataset_fn: DatasetFn) -> int:
    """Batches in one unshuffled pass (at least 1): the dataset's cardinality when it is known (the
    Trainer asserts it from trainer_input.count_won_rows), else counted over one pass."""
    dataset = dataset_fn(shuffle=False)
    known = int(dataset.cardinality())
    if known >= 0:
        return max(1, known)
    return max(1, int(dataset.reduce(0, lambda n, _: n + 1)))
