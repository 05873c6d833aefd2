"""Cox and AFT models: our vectorised scoring equals lifelines' own predictions."""
import warnings

import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.propensity import CoxWinModel, LogNormalAFTWinModel, WeibullAFTWinModel, load_win_model
from mtl_keras.propensity.data import survival_arrays

CATEGORICAL = ["device", "hour"]  # a small feature set keeps lifelines fits to seconds
NUMERIC = ["num_0", "num_1", "num_2", "num_3"]


def _lifelines_fit(model, frame):
    import lifelines

    design = model.encoder.transform_frame(frame)
    design["T"], design["E"] = survival_arrays(frame)
    fitter = {"cox": lifelines.CoxPHFitter, "weibull_aft": lifelines.WeibullAFTFitter,
              "lognormal_aft": lifelines.LogNormalAFTFitter}[model.kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fitter(penalizer=model.penalizer).fit(design, "T", "E")


@pytest.mark.parametrize("cls", [CoxWinModel, WeibullAFTWinModel, LogNormalAFTWinModel])
def test_matches_lifelines_survival_function(cls, simulated, tmp_path):
    train, test = simulated
    train = train.head(4_000)
    model = cls(categorical=CATEGORICAL, numeric=NUMERIC).fit(train)
    fitter = _lifelines_fit(model, train)
    rows = test.head(50)
    design = model.encoder.transform_frame(rows)
    if cls is CoxWinModel:
        # lifelines interpolates between baseline times when given times=, so compare at the
        # baseline's own event times t: P(price < t + 1e-9) = 1 - S(t).
        curves = fitter.predict_survival_function(design)
        picks = [10, len(curves) // 2, len(curves) - 10]
        times = curves.index.to_numpy()[picks] + 1e-9
        expected = 1.0 - curves.to_numpy()[picks].T
    else:
        times = np.array([20.0, 50.0, 90.0])
        expected = 1.0 - fitter.predict_survival_function(design, times=times).to_numpy().T
    np.testing.assert_allclose(model.predict_p_win(rows, np.tile(times, (50, 1))), expected, atol=1e-9)
    if cls is not CoxWinModel:
        np.testing.assert_allclose(model.predict_median(rows),
                                   fitter.predict_median(model.encoder.transform_frame(rows)).to_numpy(), rtol=1e-6)
    model.save(tmp_path / "m.json")
    loaded = load_win_model(tmp_path / "m.json")
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded.predict_p_win(test), model.predict_p_win(test))


def test_generic_median_inverts_the_cdf(simulated):
    train, test = simulated
    model = CoxWinModel(categorical=["device"], numeric=["num_0"]).fit(train.head(3_000))
    median = model.predict_median(test.head(20))
    p = model.predict_p_win(test.head(20), median * 1.02)
    q = model.predict_p_win(test.head(20), median / 1.02)
    assert (q <= 0.5).all() and (p >= 0.5).all()


def test_features_are_inferred_when_not_given(simulated):
    train, _ = simulated
    model = LogNormalAFTWinModel(max_levels=3).fit(train.head(2_000))
    assert model.encoder.categorical == ["user_id", "ad_id", "campaign_id", "site_id", "device", "hour"]
    assert model.encoder.numeric == NUMERIC  # bid, market price and ground truth are never features
    assert names.TRUE_P_WIN not in model.encoder.column_names


def test_subsampling_is_recorded(simulated):
    train, _ = simulated
    model = WeibullAFTWinModel(categorical=["device"], numeric=[], max_fit_rows=1_000, seed=3).fit(train.head(5_000))
    assert model.fit_info["rows"] == 5_000 and model.fit_info["fit_rows"] == 1_000 and model.fit_info["subsampled"]
    assert model.fit_info["events"] + model.fit_info["censored"] == 1_000


def test_the_fit_does_not_depend_on_the_row_order(simulated):
    # Beam hands the pipeline's WinPropensity component the requests in no fixed order.
    train, test = simulated
    frame = train.head(5_000)
    shuffled = frame.sample(frac=1.0, random_state=1)
    def fit(f, seed=3):
        return LogNormalAFTWinModel(categorical=["device"], numeric=["num_0"], max_fit_rows=1_000, seed=seed).fit(f)

    a, b = fit(frame), fit(shuffled)
    assert a.fit_info["events"] == b.fit_info["events"]
    np.testing.assert_array_equal(a.predict_p_win(test), b.predict_p_win(test))
    assert not np.array_equal(a.predict_p_win(test), fit(frame, seed=4).predict_p_win(test))


def test_no_usable_feature_is_an_error(hand_frame):
    with pytest.raises(ValueError, match="no usable feature"):
        CoxWinModel(categorical=["device"], numeric=[], min_count=100).fit(hand_frame)


@pytest.mark.parametrize("kind", ["cox", "lognormal_aft", "km_segment"])
def test_scoring_in_row_batches_changes_nothing(kind, simulated, monkeypatch):
    from mtl_keras.propensity import base, make_win_model

    train, test = simulated
    kwargs = {"segment": "hour"} if kind == "km_segment" else {"categorical": ["hour"], "numeric": ["num_0"]}
    model = make_win_model(kind, max_fit_rows=2_000, **kwargs).fit(train)
    rows = test.head(1_000)
    bids = np.tile([20.0, 60.0], (1_000, 1))
    whole, median = model.predict_p_win(rows, bids), model.predict_median(rows)
    monkeypatch.setattr(base, "SCORE_BATCH_ROWS", 37)  # 1000 rows in 28 uneven batches
    np.testing.assert_array_equal(model.predict_p_win(rows, bids), whole)
    np.testing.assert_allclose(model.predict_median(rows), median, rtol=1e-12)
