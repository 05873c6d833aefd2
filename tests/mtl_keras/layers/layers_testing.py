"""Helpers for the layer tests: a numpy reference of the expert/gate maths and save/load round trips."""
import json

import numpy as np
import tensorflow as tf
import tf_keras as keras


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def numpy_mixture(layer, inputs):
    """A plain loop over experts and gates with `layer`'s weights: (outputs [b, gates, u], gate weights)."""
    tasks, per_task, shared = layer.num_tasks, layer.num_task_experts, layer.num_shared_experts
    inputs = np.asarray(inputs, dtype=np.float64)
    rows = [inputs] * (tasks + 1) if inputs.ndim == 2 else [inputs[:, k] for k in range(tasks + 1)]
    kernels = [k.numpy().astype(np.float64) for k in layer.expert_kernels]
    biases = [b.numpy().astype(np.float64) for b in layer.expert_biases]
    experts = []
    owners = [k for k in range(tasks) for _ in range(per_task)] + [tasks] * shared
    for e, owner in enumerate(owners):  # one Dense stack per expert
        h = rows[owner]
        for kernel, bias in zip(kernels, biases):
            h = np.maximum(h @ kernel[e] + bias[e], 0.0)
        experts.append(h)
    outputs, gates = [], []
    for k in range(tasks):
        w = _softmax(rows[k] @ layer.task_gate_kernel.numpy()[k] + layer.task_gate_bias.numpy()[k])
        mine = experts[k * per_task:(k + 1) * per_task] + experts[tasks * per_task:]
        outputs.append(sum(w[:, [j]] * mine[j] for j in range(len(mine))))
        gates.append(w)
    if layer.shared_gate:
        w = _softmax(rows[tasks] @ layer.shared_gate_kernel.numpy() + layer.shared_gate_bias.numpy())
        outputs.append(sum(w[:, [j]] * experts[j] for j in range(len(experts))))
        gates.append(w)
    return np.stack(outputs, axis=1), gates


def _as_list(values):
    """Nested lists/tuples/dicts (dicts by sorted key) -> flat list of arrays."""
    return tf.nest.flatten(values)


def assert_same(actual, expected, rtol=1e-5, atol=1e-6):
    actual, expected = _as_list(actual), _as_list(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol)


def check_config_roundtrip(layer, inputs, **call_kwargs):
    """from_config(get_config()) with the same weights gives the same outputs; the config is JSON."""
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    clone(inputs, **call_kwargs)  # build
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == config
    assert_same(clone(inputs, **call_kwargs), layer(inputs, **call_kwargs))


def check_save_roundtrips(model, inputs, tmp_path):
    """SavedModel (Keras loader and the raw tf.saved_model loader) and .keras give the model's outputs."""
    expected = model.predict(inputs, verbose=0)
    model.save(str(tmp_path / "saved"), save_format="tf")
    assert_same(keras.models.load_model(str(tmp_path / "saved")).predict(inputs, verbose=0), expected)
    serving = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    named = inputs if isinstance(inputs, dict) else {model.input_names[0]: inputs}
    raw = serving(**{k: tf.constant(v) for k, v in named.items() if k in model.input_names})
    assert_same([raw[name] for name in model.output_names], _as_list(expected))
    model.save(str(tmp_path / "model.keras"))
    assert_same(keras.models.load_model(str(tmp_path / "model.keras")).predict(inputs, verbose=0), expected)


def check_fit_lowers_loss(model, inputs, labels, steps=8):
    """A few Adam steps on a fixed batch: every loss finite and the last below the first."""
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(inputs, labels, batch_size=len(labels), epochs=steps, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses
