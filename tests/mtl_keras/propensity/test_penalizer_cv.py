"""penalizer='cv': the lifelines models' L2 penalty chosen by cross-validation on the fitted rows."""
import numpy as np
import pytest

from mtl_keras.propensity import CoxWinModel, LogNormalAFTWinModel, load_win_model

FEATURES = {"categorical": ["device", "hour"], "numeric": ["num_0", "num_1"]}


@pytest.mark.parametrize("cls", [LogNormalAFTWinModel, CoxWinModel])
def test_cv_picks_the_best_held_out_likelihood_and_refits_with_it(cls, simulated, tmp_path):
    train, test = simulated
    grid = [0.01, 30.0]
    model = cls(**FEATURES, penalizer="cv", penalizer_grid=grid, cv_max_rows=3_000, max_fit_rows=3_000).fit(train)
    assert set(model.penalizer_cv) == {repr(p) for p in grid} and all(np.isfinite(list(model.penalizer_cv.values())))
    assert model.penalizer_ == 0.01  # a penalty of 30 flattens real effects: lower held-out likelihood
    assert model.penalizer_cv["0.01"] > model.penalizer_cv["30.0"]
    fixed = cls(**FEATURES, penalizer=0.01, max_fit_rows=3_000).fit(train)
    np.testing.assert_allclose(model.predict_p_win(test), fixed.predict_p_win(test), atol=1e-12)
    model.save(tmp_path / "m.json")
    loaded = load_win_model(tmp_path / "m.json")
    assert loaded.penalizer == "cv" and loaded.penalizer_ == 0.01 and loaded.penalizer_cv == model.penalizer_cv
    np.testing.assert_array_equal(loaded.predict_p_win(test), model.predict_p_win(test))


def test_a_number_disables_the_search(simulated):
    train, _ = simulated
    model = LogNormalAFTWinModel(**FEATURES, penalizer=0.05, max_fit_rows=2_000).fit(train)
    assert model.penalizer_ == 0.05 and model.penalizer_cv is None


@pytest.mark.parametrize("kwargs, field", [
    ({"penalizer": "auto"}, "penalizer"), ({"penalizer": -1.0}, "penalizer"), ({"penalizer_grid": []}, "penalizer_grid"),
    ({"penalizer_grid": [0.1, -1]}, "penalizer_grid"), ({"cv_folds": 1}, "cv_folds"), ({"cv_max_rows": 1}, "cv_max_rows"),
])
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        LogNormalAFTWinModel(**FEATURES, **kwargs)
