"""Early stopping on held-out impressions, and the intercept refit's score equations."""
import numpy as np
import pytest

from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.synthetic import make_impressions

SMALL = dict(batch_size=256, learning_rate=0.02, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [16]},
             tower_units=[8],
             train_metrics=False)


@pytest.fixture(scope="module")
def data():
    frame, spec = make_impressions(12000, vocabulary_sizes=[300, 20, 10, 5], ctr=0.1, cvr=0.2, embedding_dim=4,
                                   seed=3)
    frame[names.P_WIN] = np.random.default_rng(0).uniform(0.05, 1.0, len(frame))
    return frame, spec


def test_early_stopping_restores_the_best_validation_weights(data):
    frame, spec = data
    config = ModelConfig(features=spec, epochs=4, validation_fraction=0.25, evaluations_per_epoch=3,
                         early_stopping_patience=2, **SMALL)
    model, history = training.train(config, frame, verbose=0)
    val = history.history["val_loss"]
    # Validated 3 times per pass over the data; stopped at most `patience` checks after the best.
    assert 3 <= len(val) <= 12 and len(val) - 1 - int(np.argmin(val)) <= 2
    _, held = training._hold_out(training.prepare(frame, config), 0.25, config.seed)
    assert len(held[names.CLICK]) == pytest.approx(0.25 * len(frame), rel=0.1)
    evaluated = model.evaluate(training.data.make_dataset(held, 4096), verbose=0, return_dict=True)["loss"]
    assert evaluated == pytest.approx(min(val), rel=1e-4)  # the restored weights are the best ones


@pytest.mark.parametrize("win_weighting", [False, True])
def test_intercept_refit_solves_the_weighted_score_equations(data, win_weighting):
    frame, spec = data
    config = ModelConfig(features=spec, objective="naive", epochs=1, win_weighting=win_weighting,
                         win_propensity_floor=0.05, win_weight_clip=20.0, **SMALL)
    model, _ = training.train(config, frame.iloc[:8000], verbose=0)
    arrays = training.prepare(frame.iloc[8000:], config)
    shifts = training.refit_intercepts(model, arrays, steps=400)
    assert set(shifts) == {names.CTR, names.CVR}
    preds = training.predict(model, frame.iloc[8000:])
    click, conversion = arrays[names.CLICK].astype(float), arrays[names.CONVERSION].astype(float)
    w = np.ones_like(click)
    if win_weighting:
        w = np.minimum(1.0 / np.maximum(arrays[names.P_WIN], 0.05), 20.0)
    # Naive: the CTR bias enters only Σ w BCE(click, pCTR); the CVR bias only the clicked rows' loss.
    assert np.sum(w * (preds[names.P_CTR] - click)) / w.sum() == pytest.approx(0.0, abs=2e-4)
    wc = w * click
    assert np.sum(wc * (preds[names.P_CVR] - conversion)) / wc.sum() == pytest.approx(0.0, abs=2e-4)


def test_refit_runs_inside_train_and_bad_settings_are_named(data):
    frame, spec = data
    with pytest.raises(ValueError, match="validation_fraction"):
        ModelConfig(features=spec, validation_fraction=1.0)
    with pytest.raises(ValueError, match="intercept_refit_steps"):
        ModelConfig(features=spec, intercept_refit_steps=-1)
    with pytest.raises(ValueError, match="evaluations_per_epoch"):
        ModelConfig(features=spec, evaluations_per_epoch=0)
    config = ModelConfig(features=spec, validation_fraction=0.999, **SMALL)
    with pytest.raises(ValueError, match="validation_fraction"):
        training.train(config, frame.iloc[:50], verbose=0)
