"""NeuralWinModel: recovers a known log-normal landscape, exports to TF exactly, rejects bad input by name."""
import numpy as np
import pandas as pd
import pytest
from scipy import special

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.propensity import NeuralWinModel, load_win_model, make_win_model

MEDIAN, SHIFT, SIGMA = 40.0, 0.4, 0.5


def lognormal_world(n: int, seed: int = 0) -> pd.DataFrame:
    """log market price ~ Normal(log 40 + 0.4 (slot - 1), 0.5²); bids log-normal and independent;
    `noise` is a numeric feature without effect."""
    rng = np.random.default_rng(seed)
    slot = rng.integers(0, 3, n)
    market = np.exp(np.log(MEDIAN) + SHIFT * (slot - 1) + SIGMA * rng.normal(size=n))
    bid = np.exp(np.log(MEDIAN) + 0.8 * rng.normal(size=n))
    won = market < bid
    return pd.DataFrame({"slot": slot.astype(np.int64), "noise": rng.normal(size=n).astype(np.float32),
                         names.BID_PRICE: bid, names.WON: won.astype(np.int64),
                         names.MARKET_PRICE: np.where(won, market, np.nan)})


@pytest.fixture(scope="module")
def landscape_model():
    return NeuralWinModel(categorical=["slot"], numeric=[], seed=0).fit(lognormal_world(40_000))


@pytest.fixture(scope="module")
def small_model():
    """Both feature kinds, briefly trained: enough for export and persistence checks."""
    return NeuralWinModel(categorical=["slot"], numeric=["noise"], max_epochs=2, num_bins=24).fit(lognormal_world(3_000, 1))


def test_recovers_the_true_win_curve(landscape_model):
    bids = np.geomspace(12.0, 130.0, 20)
    for slot in (0, 2):
        truth = special.ndtr((np.log(bids) - np.log(MEDIAN) - SHIFT * (slot - 1)) / SIGMA)
        row = pd.DataFrame({"slot": np.array([slot], np.int64)})
        got = landscape_model.predict_p_win(row, bids[None, :])[0]
        assert np.abs(got - truth).max() <= 0.03, (slot, np.abs(got - truth).max())
    info = landscape_model.fit_info
    assert info["fit_rows"] == 40_000 and not info["subsampled"]  # every row, batched
    assert info["train_rows"] + info["validation_rows"] == 40_000 and info["best_epoch"] <= info["epochs"]


def test_exported_tf_function_equals_the_keras_model(small_model, tmp_path):
    import tensorflow as tf

    rows = lognormal_world(200, seed=5).assign(slot=lambda f: np.where(np.arange(200) % 7 == 0, 9, f["slot"]))  # 9: unseen
    bids = np.stack([rows[names.BID_PRICE], np.full(200, 3.0), np.full(200, 45.5), np.full(200, 1e4)], 1)
    bids = bids.astype(np.float32)
    spec = FeatureSpec(categorical=[CategoricalFeature("slot", vocabulary_size=10)], numeric=[NumericFeature("noise")])
    module = small_model.to_tf_module(spec, floor=0.01, clip=0.99)
    features = {"slot": tf.constant(rows["slot"].to_numpy()), "noise": tf.constant(rows["noise"].to_numpy()),
                "extra": tf.constant(np.zeros(200))}
    expected = small_model.predict_p_win(rows, bids, floor=0.01, clip=0.99)
    got = module(features, tf.constant(bids)).numpy()
    assert got.shape == (200, 4) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # The hazards themselves: the same Keras network in both paths.
    np.testing.assert_allclose(module.hazards({k: features[k] for k in ("slot", "noise")}).numpy(),
                               small_model.predict_hazards(rows), atol=1e-7)
    signature = module.__call__.get_concrete_function(module.input_specs(), tf.TensorSpec([None, None], tf.float32))
    tf.saved_model.save(module, str(tmp_path / "win"), signatures=signature)
    loaded = tf.saved_model.load(str(tmp_path / "win"))
    out = loaded.signatures["serving_default"](bids=tf.constant(bids), slot=features["slot"], noise=features["noise"])
    np.testing.assert_allclose(list(out.values())[0].numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="noise"):
        small_model.to_tf_module(FeatureSpec(categorical=[CategoricalFeature("slot", vocabulary_size=10)]))


def test_save_load_and_the_factory(small_model, tmp_path):
    small_model.save(tmp_path / "n.json")
    loaded = load_win_model(tmp_path / "n.json")
    assert isinstance(loaded, NeuralWinModel) and loaded.fit_info == small_model.fit_info
    rows = lognormal_world(300, seed=2)
    bids = np.tile(np.geomspace(5, 200, 7), (300, 1))
    np.testing.assert_array_equal(loaded.predict_p_win(rows, bids), small_model.predict_p_win(rows, bids))
    np.testing.assert_allclose(loaded.predict_median(rows), small_model.predict_median(rows))
    assert isinstance(make_win_model("neural", categorical=["slot"], numeric=[]), NeuralWinModel)
    p = small_model.predict_p_win(rows, bids)
    assert (np.diff(p, axis=1) >= 0).all() and ((p >= 0) & (p <= 1)).all()  # win curves rise with the bid


def _bad(frame, column, row, value):
    frame = frame.copy()
    frame[column] = frame[column].astype(float)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize("edit, field", [
    (lambda f: f.assign(**{names.WON: 0, names.MARKET_PRICE: np.nan}), names.WON),  # all lost
    (lambda f: _bad(f, names.BID_PRICE, 3, -5.0), names.BID_PRICE),
    (lambda f: _bad(f, names.BID_PRICE, 3, 0.0), names.BID_PRICE),
    (lambda f: _bad(f, names.BID_PRICE, 3, np.nan), names.BID_PRICE),
    (lambda f: _bad(f, names.MARKET_PRICE, int(np.flatnonzero(f[names.WON])[0]), 0.0), names.MARKET_PRICE),
    (lambda f: f.drop(columns=["noise"]), "noise"),
    (lambda f: _bad(f, "noise", 2, np.nan), "noise"),
])
def test_bad_training_data_is_a_value_error_naming_the_field(edit, field):
    with pytest.raises(ValueError, match=field):
        NeuralWinModel(categorical=["slot"], numeric=["noise"], max_epochs=1).fit(edit(lognormal_world(400)))


def test_bad_settings_and_scoring_input(small_model):
    frame = lognormal_world(400)
    with pytest.raises(ValueError, match="bin_edges"):
        NeuralWinModel(categorical=["slot"], bin_edges=[0.0, 10.0, 20.0], max_epochs=1).fit(frame)
    for field, kwargs in (("num_bins", {"num_bins": 1}), ("hidden", {"hidden": (0,)}),
                          ("validation_fraction", {"validation_fraction": 0.7}), ("learning_rate", {"learning_rate": 0})):
        with pytest.raises(ValueError, match=field):
            NeuralWinModel(**kwargs)
    with pytest.raises(ValueError, match="bids"):
        small_model.predict_p_win(frame.head(3), np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="slot"):
        small_model.predict_p_win(frame.drop(columns=["slot"]))
    with pytest.raises(ValueError, match="no usable feature"):
        NeuralWinModel(categorical=["slot"], numeric=[], min_count=10**6, max_epochs=1).fit(frame)


def test_all_won_is_fitted_as_uncensored_data():
    frame = lognormal_world(600, seed=3)
    market = np.exp(np.log(MEDIAN) + SIGMA * np.random.default_rng(0).normal(size=600))
    won = frame.assign(**{names.WON: 1, names.MARKET_PRICE: market, names.BID_PRICE: market * 2})
    model = NeuralWinModel(categorical=["slot"], numeric=[], max_epochs=2).fit(won)
    assert model.fit_info["censored"] == 0
    p = model.predict_p_win(won.head(5), np.array([[1.0, 40.0, 1e4]] * 5))
    assert np.isfinite(p).all() and (p[:, 0] < 0.05).all() and (p[:, 2] > 0.95).all()
