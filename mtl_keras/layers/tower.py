"""Task tower: MLP then one logit."""
from __future__ import annotations

from typing import Any, Dict, Sequence

import tf_keras as keras

from mtl_keras.layers import _checks


@keras.utils.register_keras_serializable(package="mtl_keras")
class Tower(keras.layers.Layer):
    """Dense layers `units` (`activation`, then dropout at rate `dropout` in training) and `Dense(1)`.

    Call: `inputs` `[batch, d]` -> logit `[batch, 1]`, no sigmoid: the model applies sigmoid or
    works in log space. `units=[]` gives a linear logit.
    """

    def __init__(self, units: Sequence[int], activation: Any = "relu", dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.units_list("Tower", "units", units, allow_empty=True)
        _, self.activation = _checks.activation("Tower", activation)
        self.dropout = _checks.rate("Tower", "dropout", dropout)

    def build(self, input_shape):
        self.dense_layers, self.dropout_layers = [], []
        for i, width in enumerate(self.units):
            layer = keras.layers.Dense(width, activation=self.activation, name=f"dense_{i}", dtype=self.dtype_policy)
            layer.build(input_shape)
            input_shape = layer.compute_output_shape(input_shape)
            self.dense_layers.append(layer)
            if self.dropout > 0:
                self.dropout_layers.append(keras.layers.Dropout(self.dropout, name=f"dropout_{i}", dtype=self.dtype_policy))
        self.logit = keras.layers.Dense(1, name="logit", dtype=self.dtype_policy)
        self.logit.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=None):
        hidden = inputs
        for i, layer in enumerate(self.dense_layers):
            hidden = layer(hidden)
            if self.dropout_layers:
                hidden = self.dropout_layers[i](hidden, training=training)
        return self.logit(hidden)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(units=list(self.units), activation=self.activation, dropout=self.dropout)
        return config
