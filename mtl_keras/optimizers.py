"""LazyAdam: Adam that updates only the embedding rows a batch touches, with fused dense updates."""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="mtl_keras")
class LazyAdam(keras.optimizers.Adam):
    """Adam whose sparse (embedding) updates touch only the rows in the batch.

    tf_keras's Adam decays the moments and updates the *whole* table on every sparse gradient,
    which on ads-sized tables (10^5-10^7 rows) costs more than the rest of the step. Here rows
    that a batch does not touch keep their moments and values, as in TF Addons' LazyAdam; dense
    gradients follow plain Adam exactly. Duplicate ids in a batch are summed first (by
    `apply_gradients`, which hands `update_step` sparse gradients with unique indices).

    Dense variables are updated by TF's fused `ResourceApplyAdam` kernel (one op per variable
    instead of about a dozen; the same formula as tf_keras Adam, including `adaptive_epsilon`).
    """

    def update_step(self, gradient, variable):
        if self.amsgrad:
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        lr = tf.cast(self.learning_rate, dtype)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, local_step), tf.pow(beta_2, local_step)
        epsilon = tf.cast(self.epsilon, dtype)
        if self.adaptive_epsilon:
            epsilon = epsilon * tf.sqrt(1 - beta_2_power)
        key = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[key], self._velocities[key]
        if not isinstance(gradient, tf.IndexedSlices):
            return tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=m.handle, v=v.handle, beta1_power=beta_1_power,
                beta2_power=beta_2_power, lr=lr, beta1=beta_1, beta2=beta_2, epsilon=epsilon,
                grad=gradient, use_locking=False)
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        rows, values = gradient.indices, gradient.values  # unique: see the class docstring
        m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(values)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + epsilon), rows))
