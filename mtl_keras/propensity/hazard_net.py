"""The network and censored likelihood of the neural (discrete-time hazard) win model, in tf_keras."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

LEVELS_INPUT, NUMERIC_INPUT = "levels", "numeric"


def censored_nll(targets, logits):
    """Per-request negative log-likelihood from hazard logits [batch, J] and targets [batch, 3] =
    (bin k, fraction f, won) (see hazard_bins.targets), with h = sigmoid(logits):

      won, price in bin k:   -log[h_k prod_{l<k} (1 - h_l)]        (the probability of the price's bin)
      lost, bid in bin k:    -log[prod_{l<k} (1 - h_l) (1 - f h_k)] = -log S(bid)   (price >= bid)

    k = J (a bid past the last edge) has h_J = 0: -log S(e_J). The bin probability differs from the
    density at the price by the constant log(bin width), so both have the same maximiser.
    """
    logits = tf.convert_to_tensor(logits)
    targets = tf.cast(targets, logits.dtype)
    k = tf.cast(targets[:, 0], tf.int32)
    f, won = targets[:, 1], targets[:, 2]
    log_survive = tf.math.log_sigmoid(-logits)  # log(1 - h_l)
    zeros = tf.zeros_like(logits[:, :1])
    log_at_edges = tf.concat([tf.math.cumsum(log_survive, axis=1, exclusive=True),
                              tf.reduce_sum(log_survive, axis=1, keepdims=True)], axis=1)  # log S(e_k), k <= J
    log_s = tf.gather(log_at_edges, k, batch_dims=1)
    log_h = tf.gather(tf.concat([tf.math.log_sigmoid(logits), zeros], axis=1), k, batch_dims=1)
    h = tf.gather(tf.concat([tf.sigmoid(logits), zeros], axis=1), k, batch_dims=1)
    inside = tf.math.log1p(-tf.minimum(f * h, 1.0 - 1e-7))
    return -(won * (log_h + log_s) + (1.0 - won) * (log_s + inside))


def build_hazard_network(levels_per_field: Sequence[int], num_numeric: int, initial_hazards: np.ndarray,
                         hidden: Sequence[int] = (64, 64), embedding_dim: int = 8, l2: float = 1e-5,
                         seed: int = 0) -> keras.Model:
    """{levels: [batch, fields] int32 (global level ids), numeric: [batch, k] float32} -> [batch, J]
    hazard logits. Each field's levels (reference included) get an embedding, concatenated with the
    numeric features, then ReLU layers; the output bias starts at the pooled hazards."""
    inputs, parts = {}, []
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    if len(levels_per_field):
        ids = keras.Input((len(levels_per_field),), dtype="int32", name=LEVELS_INPUT)
        table = keras.layers.Embedding(int(np.sum(levels_per_field)), embedding_dim, name="level_embedding",
                                       embeddings_initializer=keras.initializers.RandomNormal(0.0, 0.05, seed=seed),
                                       embeddings_regularizer=regularizer)
        inputs[LEVELS_INPUT] = ids
        parts.append(keras.layers.Flatten()(table(ids)))
    if num_numeric:
        inputs[NUMERIC_INPUT] = keras.Input((num_numeric,), dtype="float32", name=NUMERIC_INPUT)
        parts.append(inputs[NUMERIC_INPUT])
    if not parts:
        raise ValueError("The neural win model needs at least one feature column; pass categorical=/numeric= "
                         "columns or use kind='km'.")
    x = keras.layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}", kernel_regularizer=regularizer,
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1 + i))(x)
    h0 = np.clip(np.asarray(initial_hazards, np.float64), 1e-6, 1 - 1e-6)
    logits = keras.layers.Dense(len(h0), name="hazard_logits", kernel_regularizer=regularizer,
                                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 100),
                                bias_initializer=keras.initializers.Constant(np.log(h0 / (1 - h0))))(x)
    return keras.Model(inputs, logits, name="hazard_network")


class _ShuffledBatches(keras.utils.Sequence):
    """Batches of (inputs, targets) in a new seeded order each epoch (deterministic, no tf.data buffer)."""

    def __init__(self, inputs, targets, batch_size: int, seed: int):
        super().__init__()
        self.inputs, self.targets, self.batch_size = inputs, targets, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(targets))

    def __len__(self):
        return -(-len(self.targets) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return {k: v[rows] for k, v in self.inputs.items()}, self.targets[rows]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.targets))


def fit_network(network: keras.Model, train, validation, batch_size: int, max_epochs: int, patience: int,
                learning_rate: float, seed: int, verbose: int = 0):
    """Adam on censored_nll over all training rows in shuffled batches, stopping when the validation
    loss has not improved for `patience` epochs (the best epoch's weights are kept). `train` and
    `validation` are (inputs dict, targets) of numpy arrays. Returns the Keras History."""
    network.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=censored_nll)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    slow = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=1, min_lr=learning_rate / 100)
    return network.fit(_ShuffledBatches(*train, batch_size, seed), validation_data=validation,
                       validation_batch_size=max(batch_size, 8192), epochs=max_epochs, callbacks=[slow, stop],
                       verbose=verbose, shuffle=False)
