"""ModelConfig.negative_sampling_rate: a model trained on 10 % of the negatives serves the unsampled scale."""
import numpy as np
import pytest

from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.models import build_model
from mtl_keras.negative_sampling import downsample_negatives
from mtl_keras.synthetic import make_impressions

SMALL = dict(tower_units=[16], backbone={"name": "shared_bottom", "bottom_units": [16]}, batch_size=256, epochs=3,
             learning_rate=3e-3, seed=2)


def test_downsampling_keeps_every_positive_and_the_rate_of_negatives():
    frame, _ = make_impressions(20000, vocabulary_sizes=[10], ctr=0.1, cvr=0.3, seed=1)
    sampled = downsample_negatives(frame, {names.CTR: 0.25}, seed=3)
    assert sampled[names.CLICK].sum() == frame[names.CLICK].sum()
    kept = (sampled[names.CLICK] == 0).sum() / (frame[names.CLICK] == 0).sum()
    assert abs(kept - 0.25) < 0.015  # binomial sd ≈ 0.0034
    with pytest.raises(ValueError, match=r"rates\['ctr'\] must be in \(0, 1\]"):
        downsample_negatives(frame, {names.CTR: 0.0})


def test_logit_correction_is_log_rate_on_ctr_and_carries_into_ctcvr():
    frame, spec = make_impressions(64, vocabulary_sizes=[10], ctr=0.2, cvr=0.3, seed=1)
    plain = ModelConfig(features=spec, objective="esmm", **SMALL)
    model = build_model(plain, compile=False)
    batch = training.prepare(frame, plain)
    raw = {k: v.numpy().ravel() for k, v in model(batch).items()}
    model.model_config = ModelConfig(features=spec, objective="esmm", negative_sampling_rate={"ctr": 0.1}, **SMALL)
    out = {k: v.numpy().ravel() for k, v in model(batch).items()}
    odds = raw[names.P_CTR] / (1 - raw[names.P_CTR]) * 0.1  # hand formula: odds times the rate
    np.testing.assert_allclose(out[names.P_CTR], odds / (1 + odds), rtol=1e-5)
    np.testing.assert_allclose(out[names.P_CVR], raw[names.P_CVR], rtol=1e-6)
    np.testing.assert_allclose(out[names.P_CTCVR], out[names.P_CTR] * out[names.P_CVR], rtol=1e-5)


def test_model_trained_on_a_tenth_of_negatives_serves_the_calibration_of_one_trained_on_all():
    frame, spec = make_impressions(40000, vocabulary_sizes=[20, 10], ctr=0.08, cvr=0.3, embedding_dim=4, seed=4)
    train, test = training.split(frame, 0.3, seed=0)
    sampled = downsample_negatives(train, {names.CTR: 0.1}, seed=1)
    observed = test[names.CLICK].mean()
    ratios = {}
    for label, data, rates in (("all", train, None), ("sampled", sampled, {"ctr": 0.1}),
                               ("uncorrected", sampled, None)):
        config = ModelConfig(features=spec, objective="esmm", negative_sampling_rate=rates, **SMALL)
        model, _ = training.train(config, data, verbose=0)
        ratios[label] = training.predict(model, test)[names.P_CTR].mean() / observed
    # Within noise of each other and of 1 (about 950 test clicks: sd of the ratio ≈ 0.035).
    assert abs(ratios["all"] - 1) < 0.1 and abs(ratios["sampled"] - 1) < 0.1, ratios
    assert abs(ratios["sampled"] - ratios["all"]) < 0.1, ratios
    assert ratios["uncorrected"] > 3, ratios  # the sampled odds are 10x: without the correction pCTR is far off


def test_bad_rates_name_the_field():
    _, spec = make_impressions(10, vocabulary_sizes=[5], seed=0)
    with pytest.raises(ValueError, match=r"negative_sampling_rate\['ctr'\] must be in \(0, 1\]"):
        ModelConfig(features=spec, objective="esmm", negative_sampling_rate={"ctr": 1.5})
    with pytest.raises(ValueError, match="names 'cvr'.*only \\['ctr'\\]"):
        ModelConfig(features=spec, objective="esmm", negative_sampling_rate={"cvr": 0.5})
    with pytest.raises(ValueError, match="must be a dict"):
        ModelConfig(features=spec, objective="esmm", negative_sampling_rate=0.1)
    config = ModelConfig(features=spec, objective="cvr", negative_sampling_rate={"cvr": 0.5})
    assert ModelConfig.from_json(config.to_json()).negative_sampling_rate == {"cvr": 0.5}
