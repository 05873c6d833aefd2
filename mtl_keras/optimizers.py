"""LazyAdam (Adam that updates only the embedding rows a batch touches, with fused dense updates), the
warmup-cosine learning-rate schedule and the optimizer a ModelConfig asks for."""
from __future__ import annotations

import math
from typing import Optional

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


@keras.utils.register_keras_serializable(package="mtl_keras")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `learning_rate` over `warmup_steps`, then cosine decay to `alpha`·lr over `decay_steps`.

    At step s (0-based): s < W: lr·(s+1)/W; else lr·(α + (1−α)·(1 + cos(π·min(s−W, D)/D))/2).
    """

    def __init__(self, learning_rate: float, decay_steps: int, warmup_steps: int = 0, alpha: float = 0.0,
                 name: str = "WarmupCosineDecay"):
        super().__init__()
        if decay_steps < 1 or warmup_steps < 0 or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"WarmupCosineDecay: need decay_steps >= 1, warmup_steps >= 0 and alpha in [0, 1]; "
                             f"got {decay_steps}, {warmup_steps}, {alpha}.")
        self.learning_rate, self.decay_steps = float(learning_rate), int(decay_steps)
        self.warmup_steps, self.alpha, self.name = int(warmup_steps), float(alpha), name

    def __call__(self, step):
        with tf.name_scope(self.name):
            step = tf.cast(step, tf.float32)
            lr = tf.constant(self.learning_rate, tf.float32)
            progress = tf.clip_by_value((step - self.warmup_steps) / self.decay_steps, 0.0, 1.0)
            cosine = 0.5 * (1.0 + tf.cos(tf.constant(math.pi, tf.float32) * progress))
            decayed = lr * (self.alpha + (1.0 - self.alpha) * cosine)
            if not self.warmup_steps:
                return decayed
            return tf.where(step < self.warmup_steps, lr * (step + 1.0) / self.warmup_steps, decayed)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "decay_steps": self.decay_steps,
                "warmup_steps": self.warmup_steps, "alpha": self.alpha, "name": self.name}


def build_optimizer(config, total_steps: Optional[int] = None) -> keras.optimizers.Optimizer:
    """`config.optimizer` ("lazy_adam" or "adam") at `config.learning_rate`, on `config.learning_rate_schedule`
    when one is set (a cosine schedule needs `total_steps`, the number of training steps)."""
    learning_rate = config.learning_rate
    if config.learning_rate_schedule is not None:
        learning_rate = config.learning_rate_schedule.build(config.learning_rate, total_steps)
    optimizer = LazyAdam if config.optimizer == "lazy_adam" else keras.optimizers.Adam
    return optimizer(learning_rate=learning_rate)
