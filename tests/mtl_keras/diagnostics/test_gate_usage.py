"""gate_usage matches a NumPy recomputation of the gates from the layers' variables; the heatmap is a PNG."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from PIL import Image

from mtl_keras import names
from mtl_keras.config import ModelConfig
from mtl_keras.diagnostics import gate_usage, plot_gate_usage, usage_scalars
from mtl_keras.models import build_model
from mtl_keras.synthetic import make_impressions

BACKBONES = {
    "mmoe": {"name": "mmoe", "num_experts": 3, "expert_units": [8]},
    "ple": {"name": "ple", "num_levels": 2, "num_shared_experts": 2, "num_task_experts": 1, "expert_units": [8]},
    "shared_bottom": {"name": "shared_bottom", "bottom_units": [8]},
}


@pytest.fixture(scope="module")
def batch():
    frame, spec = make_impressions(200, vocabulary_sizes=[20, 10], num_dense=2, embedding_dim=4, seed=1)
    return {c: frame[c].to_numpy() for c in spec.names + [names.CLICK]}, spec


def _model(spec, backbone):
    keras.utils.set_random_seed(3)
    config = ModelConfig(features=spec, objective="esmm", tower_units=[4], backbone=BACKBONES[backbone])
    model = build_model(config, compile=False)
    model(model.dummy_features())
    return model


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _entropy(p):
    return float(np.mean(-np.sum(p * np.log(p), axis=-1)))


def _bottom(model, features):
    assert model.model_config.num_cross_layers == 0  # the backbone reads the embeddings directly
    return model.embedding({k: tf.constant(v) for k, v in features.items()}).numpy().astype(np.float64)


def test_mmoe_usage_is_the_softmax_of_the_gate_kernels(batch):
    features, spec = batch
    model = _model(spec, "mmoe")
    usage = gate_usage(model, features)
    experts = model.backbone.experts
    kernel, bias = experts.task_gate_kernel.numpy(), experts.task_gate_bias.numpy()
    x = _bottom(model, features)
    assert usage["backbone"] == "mmoe" and usage["rows"] == 200 and len(usage["levels"]) == 1
    assert usage["levels"][0]["experts"] == ["expert_0", "expert_1", "expert_2"]
    for k, tower in enumerate([names.CTR, names.CVR]):
        p = _softmax(x @ kernel[k] + bias[k])
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        mean = usage["mean"][tower]
        np.testing.assert_allclose([mean[f"expert_{i}"] for i in range(3)], p.mean(axis=0), rtol=1e-5)
        assert sum(mean.values()) == pytest.approx(1.0, abs=1e-6)
        assert usage["entropy"][tower] == pytest.approx(_entropy(p), rel=1e-5)
        assert 0 < usage["entropy"][tower] < np.log(3)
    assert usage["mean"] == usage["levels"][0]["mean"]


def test_ple_usage_has_every_level_and_the_shared_gate(batch):
    features, spec = batch
    model = _model(spec, "ple")
    usage = gate_usage(model, features)
    first, last = usage["levels"]
    assert [first["name"], last["name"]] == ["level_0", "level_1"]
    assert first["experts"] == last["experts"] == ["ctr_0", "cvr_0", "shared_0", "shared_1"]
    assert first["gates"] == ["ctr", "cvr", "shared"] and last["gates"] == ["ctr", "cvr"]
    # Level 0 reads the embeddings: recompute its task gates and its shared gate.
    level = model.backbone.levels[0]
    x = _bottom(model, features)
    kernel, bias = level.task_gate_kernel.numpy(), level.task_gate_bias.numpy()
    for k, tower in enumerate([names.CTR, names.CVR]):
        p = _softmax(x @ kernel[k] + bias[k])  # [own expert, shared_0, shared_1]
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        mean = first["mean"][tower]
        assert list(mean) == [f"{tower}_0", "shared_0", "shared_1"]
        np.testing.assert_allclose(list(mean.values()), p.mean(axis=0), rtol=1e-5)
        assert first["entropy"][tower] == pytest.approx(_entropy(p), rel=1e-5)
    shared = _softmax(x @ level.shared_gate_kernel.numpy() + level.shared_gate_bias.numpy())
    np.testing.assert_allclose([first["mean"]["shared"][e] for e in first["experts"]], shared.mean(axis=0), rtol=1e-5)
    # The final level is what MultiTaskModel.gate_weights returns (rows sum to 1).
    final = model.gate_weights({k: tf.constant(v) for k, v in features.items()})
    for tower, weights in final.items():
        np.testing.assert_allclose(tf.reduce_sum(weights, axis=1).numpy(), 1.0, rtol=1e-5)
        np.testing.assert_allclose(list(usage["mean"][tower].values()), weights.numpy().mean(axis=0), rtol=1e-5)
    scalars = usage_scalars(usage)
    assert scalars["gates/level_1/ctr/shared_1"] == usage["mean"]["ctr"]["shared_1"]
    assert scalars["gates/level_0/shared/entropy"] == first["entropy"]["shared"]


@pytest.mark.parametrize("backbone", ["mmoe", "ple"])
def test_heatmap_is_a_png(batch, backbone, tmp_path):
    features, spec = batch
    usage = gate_usage(_model(spec, backbone), features)
    path = plot_gate_usage(usage, str(tmp_path / "plots" / "gates.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 200 and image.size[1] > 100


def test_bad_input_names_the_field_and_the_fix(batch, tmp_path):
    features, spec = batch
    with pytest.raises(ValueError, match="has no gates.*mmoe or ple"):
        gate_usage(_model(spec, "shared_bottom"), features)
    model = _model(spec, "mmoe")
    with pytest.raises(ValueError, match=r"lacks the model's features \['c1'\]"):
        gate_usage(model, {k: v for k, v in features.items() if k != "c1"})
    with pytest.raises(ValueError, match="`features` must be a non-empty dict"):
        gate_usage(model, [])
    with pytest.raises(ValueError, match="MultiTaskModel"):
        gate_usage(keras.Sequential([keras.layers.Dense(1)]), features)
    with pytest.raises(ValueError, match="`usage` must be the dict gate_usage"):
        plot_gate_usage({}, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match=r"`path` must be a \.png"):
        plot_gate_usage(gate_usage(model, features), str(tmp_path / "x.jpg"))
