"""km, km_segment and cox as TF functions: equal to predict_p_win, also from a SavedModel."""
import numpy as np
import pytest

from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.propensity import make_win_model

SPEC = FeatureSpec(categorical=[CategoricalFeature("device", vocabulary_size=8), CategoricalFeature("hour", vocabulary_size=24)],
                   numeric=[NumericFeature("num_0"), NumericFeature("num_1")])


@pytest.mark.parametrize("kind, kwargs", [
    ("km", {}),
    ("km_segment", {"segment": "hour", "min_count": 50}),
    ("km_segment", {"segment": "num_0", "num_buckets": 5}),
    ("cox", {"categorical": ["device", "hour"], "numeric": ["num_0"], "max_fit_rows": 3_000}),
])
def test_module_equals_predict_p_win(kind, kwargs, simulated):
    import tensorflow as tf

    train, test = simulated
    model = make_win_model(kind, **kwargs).fit(train)
    rows = test.head(400).copy()
    rows.loc[rows.index[:5], "hour"] = 99  # unseen segment: the global curve
    bids = np.stack([rows["bid_price"], np.full(400, 0.5), np.full(400, 37.25), np.full(400, 1e5)], 1).astype(np.float32)
    module = model.to_tf_module(SPEC, floor=0.02, clip=0.98)
    features = {n: tf.constant(rows[n].to_numpy()) for n in SPEC.names}
    got = module(features, tf.constant(bids)).numpy()
    np.testing.assert_allclose(got, model.predict_p_win(rows, bids, floor=0.02, clip=0.98), atol=1e-6)
    assert got.dtype == np.float32 and (np.diff(got, axis=1)[:, 1] >= 0).all()


def test_saved_model_round_trip_and_spec_check(simulated, tmp_path):
    import tensorflow as tf

    train, test = simulated
    model = make_win_model("km_segment", segment="hour").fit(train)
    module = model.to_tf_module(SPEC)
    signature = module.__call__.get_concrete_function(module.input_specs(), tf.TensorSpec([None, None], tf.float32))
    tf.saved_model.save(module, str(tmp_path / "km"), signatures=signature)
    rows = test.head(50)
    bids = np.tile(np.float32([[5.0, 50.0, 500.0]]), (50, 1))
    out = tf.saved_model.load(str(tmp_path / "km")).signatures["serving_default"](
        bids=tf.constant(bids), hour=tf.constant(rows["hour"].to_numpy()))
    np.testing.assert_allclose(list(out.values())[0].numpy(), model.predict_p_win(rows, bids), atol=1e-6)
    with pytest.raises(ValueError, match="hour"):
        model.to_tf_module(FeatureSpec(categorical=[CategoricalFeature("device", vocabulary_size=8)]))
