import numpy as np
import tensorflow as tf
import tf_keras as keras

from mtl_keras.optimizers import LazyAdam


def run(optimizer, ids_per_step, steps=3):
    table = tf.Variable(np.arange(12, dtype=np.float32).reshape(6, 2) / 10)
    dense = tf.Variable([1.0, -2.0])
    for step in range(steps):
        with tf.GradientTape() as tape:
            rows = tf.gather(table, ids_per_step[step % len(ids_per_step)])
            loss = tf.reduce_sum(tf.square(rows - 1.0)) + tf.reduce_sum(tf.square(dense))
        grads = tape.gradient(loss, [table, dense])
        optimizer.apply_gradients(zip(grads, [table, dense]))
    return table.numpy(), dense.numpy()


def test_lazy_adam_equals_adam_when_every_row_is_touched_and_on_dense_variables():
    ids = [[0, 1, 2, 3, 4, 5, 5]]  # a duplicate id: its gradients must be summed
    lazy = run(LazyAdam(0.1), ids)
    plain = run(keras.optimizers.Adam(0.1), ids)
    np.testing.assert_allclose(lazy[0], plain[0], rtol=1e-5)
    # Dense variables go through the fused kernel: same formula, float32 rounding may differ.
    np.testing.assert_allclose(lazy[1], plain[1], rtol=1e-5)


def test_lazy_adam_leaves_untouched_rows_alone():
    start = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
    table, _ = run(LazyAdam(0.1), [[0, 1], [1, 2]], steps=4)
    np.testing.assert_array_equal(table[3:], start[3:])
    assert np.all(table[:3] != start[:3])
    table_adam, _ = run(keras.optimizers.Adam(0.1), [[0, 1], [1, 2]], steps=4)
    assert np.any(table_adam[2] != table[2])  # plain Adam keeps moving row 2 on steps that skip it
