"""IPS and DR CVR risks against numpy references on a hand-made batch, with floor and clip."""
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.tasks import CTCVRTask, CTRTask, CVRTask, DRCVRTask, IPSCVRTask, WinPropensityWeights

CLICK = np.array([1, 1, 0, 1, 0, 0], np.float32)
CONV = np.array([1, 0, 0, 0, 0, 0], np.float32)
P_CTR = np.array([0.5, 0.005, 0.3, 0.025, 0.1, 0.2])  # 0.005 is floored to 0.01, then 1/0.01=100 clipped to 50
P_CVR = np.array([0.6, 0.2, 0.1, 0.3, 0.05, 0.4])
P_IMP = np.array([0.7, 0.1, 0.2, 0.25, 0.1, 0.3])
WIN_W = np.array([1.0, 2.0, 1.0, 0.5, 1.0, 1.5], np.float32)


def logit(p):
    return np.log(p / (1 - p)).astype(np.float32).reshape(-1, 1)


def batch_and_outputs():
    batch = {names.CLICK: tf.constant(CLICK), names.CONVERSION: tf.constant(CONV)}
    outputs = {names.CTR_LOGIT: tf.constant(logit(P_CTR)), names.CVR_LOGIT: tf.constant(logit(P_CVR)),
               names.IMP_LOGIT: tf.constant(logit(P_IMP))}
    return batch, outputs


def bce(y, p):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def inverse(p, floor=0.01, clip=50.0):
    return np.minimum(1 / np.maximum(p, floor), clip)


@pytest.mark.parametrize("self_normalize", [False, True])
def test_ips_risk_matches_numpy(self_normalize):
    task = IPSCVRTask(propensity_floor=0.01, weight_clip=50.0, self_normalize=self_normalize)
    got = task(*batch_and_outputs(), tf.constant(WIN_W), compute_metrics=False).numpy()
    cw = WIN_W * CLICK * inverse(P_CTR)
    np.testing.assert_allclose(inverse(P_CTR), [2, 50, 1 / 0.3, 40, 10, 5], rtol=1e-6)
    denominator = cw.sum() if self_normalize else len(CLICK)
    assert got == pytest.approx((cw * bce(CONV, P_CVR)).sum() / denominator, rel=1e-4)


def test_dr_risk_matches_numpy():
    task = DRCVRTask(propensity_floor=0.01, weight_clip=50.0, imputation_weight=0.5)
    got = task(*batch_and_outputs(), tf.constant(WIN_W), compute_metrics=False).numpy()
    cw = WIN_W * CLICK * inverse(P_CTR)
    error = bce(CONV, P_CVR)
    imputed = bce(P_IMP, P_CVR)
    dr = (WIN_W * imputed).mean() + (cw * (error - imputed)).sum() / 6
    imputation = (cw * (error - imputed) ** 2).sum() / 6
    assert got == pytest.approx(dr + 0.5 * imputation, rel=1e-4)


def test_dr_gradients_reach_cvr_tower_on_unclicked_rows_and_imputation_only_through_its_risk():
    batch, outputs = batch_and_outputs()
    cvr_logit = tf.Variable(outputs[names.CVR_LOGIT])
    imp_logit = tf.Variable(outputs[names.IMP_LOGIT])
    ctr_logit = tf.Variable(outputs[names.CTR_LOGIT])
    task = DRCVRTask(propensity_floor=0.01, weight_clip=50.0)
    with tf.GradientTape(persistent=True) as tape:
        loss = task(batch, {names.CTR_LOGIT: ctr_logit, names.CVR_LOGIT: cvr_logit, names.IMP_LOGIT: imp_logit},
                    tf.ones(6), compute_metrics=False)
    g_cvr = tape.gradient(loss, cvr_logit).numpy().reshape(-1)
    assert np.all(g_cvr[CLICK == 0] != 0)  # the imputed error trains the CVR tower off the click space
    assert tape.gradient(loss, ctr_logit) is None  # 1/pCTR is a stop-gradient propensity


def test_naive_cvr_uses_clicked_rows_only_and_batch_without_clicks_is_zero():
    batch, outputs = batch_and_outputs()
    got = CVRTask()(batch, outputs, tf.constant(WIN_W), compute_metrics=False).numpy()
    clicked = CLICK == 1
    expected = (WIN_W[clicked] * bce(CONV, P_CVR)[clicked]).sum() / WIN_W[clicked].sum()
    assert got == pytest.approx(expected, rel=1e-4)
    no_clicks = {names.CLICK: tf.zeros(6), names.CONVERSION: tf.zeros(6)}
    for task in (CVRTask(), IPSCVRTask(self_normalize=True), DRCVRTask(self_normalize=True)):
        value = task(no_clicks, outputs, tf.ones(6)).numpy()
        assert np.isfinite(value)


def test_ctr_and_ctcvr_losses_match_numpy_and_survive_tiny_pctr():
    batch, outputs = batch_and_outputs()
    ctr = CTRTask()(batch, outputs, tf.constant(WIN_W), compute_metrics=False).numpy()
    assert ctr == pytest.approx((WIN_W * bce(CLICK, P_CTR)).mean(), rel=1e-4)
    log_p = np.log(P_CTR * P_CVR).astype(np.float32).reshape(-1, 1)
    ctcvr = CTCVRTask()(batch, {names.LOG_P_CTCVR: tf.constant(log_p)}, tf.constant(WIN_W),
                        compute_metrics=False).numpy()
    assert ctcvr == pytest.approx((WIN_W * bce(CLICK * CONV, P_CTR * P_CVR)).mean(), rel=1e-4)
    tiny = {names.CTR_LOGIT: tf.fill([6, 1], -60.0), names.CVR_LOGIT: tf.constant(logit(P_CVR)),
            names.IMP_LOGIT: tf.constant(logit(P_IMP)), names.LOG_P_CTCVR: tf.fill([6, 1], -61.0)}
    for task in (CTRTask(), CTCVRTask(), IPSCVRTask(), DRCVRTask()):
        assert np.isfinite(task(batch, tiny, tf.ones(6)).numpy())


def test_win_weights_floor_clip_and_self_normalise():
    raw = WinPropensityWeights(floor=0.1, clip=5.0, self_normalize=False)(tf.constant([0.5, 0.01, 0.25])).numpy()
    np.testing.assert_allclose(raw, [2.0, 5.0, 4.0])
    normalised = WinPropensityWeights(floor=0.1, clip=5.0)(tf.constant([0.5, 0.01, 0.25])).numpy()
    np.testing.assert_allclose(normalised, raw / raw.mean(), rtol=1e-6)


@pytest.mark.parametrize("kwargs, field", [
    ({"propensity_floor": 0.0}, "propensity_floor"), ({"weight_clip": 0.5}, "weight_clip")])
def test_ips_rejects_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        IPSCVRTask(**kwargs)


def test_task_metrics_on_clicked_rows_only():
    batch, outputs = batch_and_outputs()
    task = CVRTask()
    task(batch, outputs, tf.ones(6))
    clicked = CLICK == 1
    assert task.calibration_ratio.result().numpy() == pytest.approx(P_CVR[clicked].sum() / CONV[clicked].sum(),
                                                                     rel=1e-5)


def test_click_propensity_column_replaces_the_models_pctr():
    known = np.array([0.25, 0.5, 0.3, 0.1, 0.1, 0.2], np.float32)
    batch, outputs = batch_and_outputs()
    batch["known_p_ctr"] = tf.constant(known)
    task = IPSCVRTask(propensity_floor=0.01, weight_clip=50.0, click_propensity_column="known_p_ctr")
    got = task(batch, outputs, tf.constant(WIN_W), compute_metrics=False).numpy()
    cw = WIN_W * CLICK / known  # clicked rows: 1/0.25, 1/0.5, 1/0.1
    assert got == pytest.approx((cw * bce(CONV, P_CVR)).sum() / len(CLICK), rel=1e-4)
    assert IPSCVRTask.from_config(task.get_config()).click_propensity_column == "known_p_ctr"
    dr = DRCVRTask(propensity_floor=0.01, weight_clip=50.0, click_propensity_column="known_p_ctr")
    np.testing.assert_allclose(dr.click_weights(batch, outputs, tf.constant(WIN_W)).numpy(), cw, rtol=1e-6)


def test_click_propensity_column_is_checked_before_training():
    from mtl_keras import training
    from mtl_keras.config import ModelConfig
    from mtl_keras.synthetic import make_impressions

    frame, spec = make_impressions(500, vocabulary_sizes=[10, 5], ctr=0.2, cvr=0.2, embedding_dim=2, seed=0)
    config = ModelConfig(features=spec, objective={"name": "escm2_ips", "click_propensity_column": "known_p_ctr"})
    with pytest.raises(ValueError, match="known_p_ctr.*not a column"):
        training.prepare(frame, config)
    frame["known_p_ctr"] = 0.0
    with pytest.raises(ValueError, match="known_p_ctr.*probabilities"):
        training.prepare(frame, config)
    frame["known_p_ctr"] = 0.2
    assert "known_p_ctr" in training.prepare(frame, config)
    # ESMM has no click weights: the setting is rejected, naming the objectives that use it.
    with pytest.raises(ValueError, match=r"'esmm' does not use the setting 'click_propensity_column'.*escm2_ips"):
        ModelConfig(features=spec, objective={"name": "esmm", "click_propensity_column": "known_p_ctr"})
