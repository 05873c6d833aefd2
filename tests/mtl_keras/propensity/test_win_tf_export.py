import numpy as np
import pytest

from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.propensity import LogNormalAFTWinModel, WeibullAFTWinModel
from mtl_keras.simulation import SimulationConfig, feature_spec


@pytest.mark.parametrize("cls", [LogNormalAFTWinModel, WeibullAFTWinModel])
def test_module_equals_predict_p_win_and_survives_saved_model(cls, simulated, tmp_path):
    import tensorflow as tf

    train, test = simulated
    model = cls(categorical=["device", "hour"], numeric=["num_0", "num_1"], max_fit_rows=3_000).fit(train)
    spec = feature_spec(SimulationConfig())
    module = model.to_tf_module(spec, floor=0.01, clip=0.99)
    rows = test.head(300)
    bids = np.stack([rows["bid_price"], 2 * rows["bid_price"], np.full(300, 15.0), np.full(300, 500.0)], 1).astype(np.float32)
    # All raw features, as a serving signature passes them; the module reads the ones it needs.
    features = {n: tf.constant(rows[n].to_numpy()) for n in spec.names}
    got = module(features, tf.constant(bids)).numpy()
    assert got.shape == (300, 4) and got.dtype == np.float32
    expected = model.predict_p_win(rows, bids, floor=0.01, clip=0.99)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert (got[:, 3] > got[:, 2]).all()  # a higher bid wins more often

    signature = module.__call__.get_concrete_function(module.input_specs(), tf.TensorSpec([None, None], tf.float32))
    tf.saved_model.save(module, str(tmp_path / "win"), signatures=signature)
    loaded = tf.saved_model.load(str(tmp_path / "win"))
    inputs = {n: tf.constant(rows[n].to_numpy()) for n in module.feature_names}
    out = loaded.signatures["serving_default"](bids=tf.constant(bids), **inputs)
    np.testing.assert_allclose(list(out.values())[0].numpy(), expected, atol=1e-6)


def test_feature_spec_must_hold_the_model_features(simulated):
    train, _ = simulated
    model = LogNormalAFTWinModel(categorical=["device"], numeric=["num_0"], max_fit_rows=2_000).fit(train)
    spec = FeatureSpec(categorical=[CategoricalFeature("device", vocabulary_size=4)], numeric=[NumericFeature("num_9")])
    with pytest.raises(ValueError, match="num_0"):
        model.to_tf_module(spec)
    from mtl_keras.propensity import MODEL_CLASSES

    assert all(not getattr(cls.to_tf_module, "__isabstractmethod__", False) for cls in MODEL_CLASSES.values())
