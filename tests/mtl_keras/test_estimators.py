"""The numpy reference estimators (mtl_keras/estimators.py) equal the TF task losses, and what they
estimate, checked analytically over many simulated datasets (docs/estimators.md states the maths).

World of tests 2-5: x uniform on 8 cells with known p_win(x), p_ctr(x), p_cvr(x), all increasing in x,
so winning and clicking select the requests that convert more. won ~ Bern(p_win),
click = won·Bern(p_ctr), conversion = click·Bern(p_cvr). Rows are requests; a lost auction has
weight 0 (estimators.win_weights(..., won=won)), so N is the number of requests. The prediction
pCVR = 0.1 everywhere is deliberately wrong; the truth E_x[BCE(p_cvr(x), 0.1)] is a finite sum.
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mtl_keras import estimators as est
from mtl_keras import names
from mtl_keras.tasks import CTCVRTask, CTRTask, CVRTask, DRCVRTask, IPSCVRTask, WinPropensityWeights

P_X = np.full(8, 1 / 8)
P_WIN = np.array([0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
P_CTR = np.array([0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.18, 0.2])
P_CVR = np.array([0.02, 0.05, 0.08, 0.12, 0.18, 0.25, 0.35, 0.5])
Q = 0.1  # the fixed, wrong prediction pCVR(x)
TRUTH = float(P_X @ est.bce(P_CVR, Q))  # request-space risk E_x[BCE(r(x), pCVR(x))], exact
SELECTED = P_X * P_WIN * P_CTR
CLICK_SPACE = float(SELECTED @ est.bce(P_CVR, Q) / SELECTED.sum())  # what the naive estimator targets
NO_FLOOR = {"propensity_floor": 1e-9, "weight_clip": np.inf}  # click stage: exact 1/p_ctr


def draw(rng, reps, n):
    """[reps, n] requests of the world: cell x, won, click, conversion."""
    x = rng.integers(0, 8, size=(reps, n))
    u = rng.random((3, reps, n), dtype=np.float32)
    won = (u[0] < P_WIN[x]).astype(float)
    click = won * (u[1] < P_CTR[x])
    return x, won, click, click * (u[2] < P_CVR[x])


def oracle_win_weights(x, won, floor=1e-9, self_normalize=False):
    return est.win_weights(P_WIN[x], floor=floor, clip=np.inf, self_normalize=self_normalize, won=won)


def mean_se(values):
    values = np.asarray(values, float)
    return values.mean(), values.std(ddof=1) / np.sqrt(values.size)


def report(label, values, target):
    mean, se = mean_se(values)
    print(f"{label}: mean {mean:.5f} target {target:.5f} SE {se:.5f} z {(mean - target) / se:+.2f}")
    return mean, se


# 1. numpy == TF on a random batch with fixed predictions.

def _random_batch(seed=0, n=300):
    rng = np.random.default_rng(seed)
    click = (rng.random(n) < 0.3).astype(np.float32)
    conversion = click * (rng.random(n) < 0.4).astype(np.float32)
    logits = {k: rng.normal(m, s, n).astype(np.float32).reshape(-1, 1)
              for k, m, s in ((names.CTR_LOGIT, -1.5, 1.5), (names.CVR_LOGIT, -1.0, 1.2), (names.IMP_LOGIT, -0.5, 1.0))}
    probs = {k: 1 / (1 + np.exp(-v.astype(np.float64).reshape(-1))) for k, v in logits.items()}
    logits[names.LOG_P_CTCVR] = (np.log(probs[names.CTR_LOGIT]) + np.log(probs[names.CVR_LOGIT])).astype(
        np.float32).reshape(-1, 1)
    p_win = rng.uniform(0.01, 1.0, n).astype(np.float32)
    batch = {names.CLICK: tf.constant(click), names.CONVERSION: tf.constant(conversion)}
    return batch, {k: tf.constant(v) for k, v in logits.items()}, click, conversion, probs, p_win


@pytest.mark.parametrize("win", ["none", "self_normalized", "plain"])
def test_numpy_reference_equals_tf_task_losses(win):
    batch, outputs, click, conv, probs, p_win = _random_batch()
    p_ctr, p_cvr, p_imp = probs[names.CTR_LOGIT], probs[names.CVR_LOGIT], probs[names.IMP_LOGIT]
    assert p_ctr.min() < 0.02 and p_win.min() < 0.05  # the floors and clips below bind on some rows
    if win == "none":
        tf_w, np_w = tf.ones(click.shape), None
    else:
        layer = WinPropensityWeights(floor=0.05, clip=10.0, self_normalize=win == "self_normalized")
        tf_w = layer(tf.constant(p_win))
        np_w = est.win_weights(p_win, floor=0.05, clip=10.0, self_normalize=win == "self_normalized")
        np.testing.assert_allclose(tf_w.numpy(), np_w, rtol=1e-6)
    ips = {"propensity_floor": 0.02, "weight_clip": 30.0}

    def tf_loss(task):
        return float(task(batch, outputs, tf_w, compute_metrics=False).numpy())

    pairs = {
        "ctr": (tf_loss(CTRTask()), est.ctr_risk(click, p_ctr, np_w)),
        "ctcvr": (tf_loss(CTCVRTask()), est.ctcvr_risk(click, conv, p_ctr, p_cvr, np_w)),
        "naive_cvr": (tf_loss(CVRTask()), est.naive_cvr_risk(click, conv, p_cvr, np_w)),
        "ips": (tf_loss(IPSCVRTask(**ips)), est.ips_cvr_risk(click, conv, p_cvr, p_ctr, np_w, **ips)),
        "snips": (tf_loss(IPSCVRTask(self_normalize=True, **ips)),
                  est.ips_cvr_risk(click, conv, p_cvr, p_ctr, np_w, self_normalize=True, **ips)),
    }
    for self_normalize in (False, True):
        args = (click, conv, p_cvr, p_ctr, p_imp, np_w)
        kw = dict(self_normalize=self_normalize, **ips)
        # imputation_weight=0 isolates the DR risk; 0.7 adds the imputation tower's own loss.
        pairs[f"dr_risk_sn{self_normalize}"] = (
            tf_loss(DRCVRTask(imputation_weight=0.0, **kw)), est.dr_cvr_risk(*args, **kw))
        pairs[f"dr_loss_sn{self_normalize}"] = (
            tf_loss(DRCVRTask(imputation_weight=0.7, **kw)), est.dr_cvr_loss(*args, imputation_weight=0.7, **kw))
    for name, (got, expected) in pairs.items():
        assert got == pytest.approx(float(expected), rel=1e-5), name


def test_reference_rejects_bad_shapes_and_propensities_naming_the_argument():
    ones, half = np.ones(4), np.full(4, 0.5)
    with pytest.raises(ValueError, match="p_ctr"):
        est.ctr_risk(ones, np.full(3, 0.5))
    with pytest.raises(ValueError, match="p_win"):
        est.win_weights(np.array([0.5, 1.2]))
    with pytest.raises(ValueError, match="p_imp"):
        est.dr_cvr_risk(ones, ones, half, half, np.full(4, -0.1))
    with pytest.raises(ValueError, match="click"):
        est.naive_cvr_risk(half, ones, half)
    with pytest.raises(ValueError, match="propensity_floor"):
        est.ips_cvr_risk(ones, ones, half, half, propensity_floor=0.0)
    with pytest.raises(ValueError, match="example_weight"):
        est.ctr_risk(ones, half, example_weight=np.ones(5))


# 2 and 4. Unbiasedness of two-stage IPS and DR over 2,000 replicate datasets of 2,000 requests.

@pytest.fixture(scope="module")
def replicates():
    x, won, click, conv = draw(np.random.default_rng(0), reps=2000, n=2000)
    return x, won, click, conv, oracle_win_weights(x, won)


def test_two_stage_ips_is_unbiased_for_the_request_space_risk_and_naive_is_not(replicates):
    x, won, click, conv, w = replicates
    q = np.full(x.shape, Q)
    ips = est.ips_cvr_risk(click, conv, q, P_CTR[x], w, **NO_FLOOR)
    mean, se = report("two-stage IPS", ips, TRUTH)
    assert abs(mean - TRUTH) < 2 * se
    naive_mean, naive_se = report("naive", est.naive_cvr_risk(click, conv, q), TRUTH)
    assert naive_mean - TRUTH > 5 * naive_se and abs(naive_mean - CLICK_SPACE) < 0.01
    # Negative control: the click stage alone (no 1/p_win) estimates the impression-space risk.
    click_only_mean, click_only_se = report("1/p_ctr only", est.ips_cvr_risk(click, conv, q, P_CTR[x], won, **NO_FLOOR),
                                            TRUTH)
    assert abs(click_only_mean - TRUTH) > 5 * click_only_se


def test_dr_is_unbiased_when_either_the_click_propensity_or_the_imputation_is_correct(replicates):
    x, won, click, conv, w = replicates
    q = np.full(x.shape, Q)
    wrong_propensity, wrong_imputation = np.full(x.shape, 0.1), np.full(x.shape, 0.3)
    # The correct imputation is the exact conditional error: BCE(p_imp, q) = E[BCE(r, q) | x] at p_imp = p_cvr(x).
    cases = {"right propensity, wrong imputation": (P_CTR[x], wrong_imputation, True),
             "wrong propensity, right imputation": (wrong_propensity, P_CVR[x], True),
             "both wrong": (wrong_propensity, wrong_imputation, False)}
    for label, (propensity, imputation, unbiased) in cases.items():
        mean, se = report(f"DR {label}", est.dr_cvr_risk(click, conv, q, propensity, imputation, w, **NO_FLOOR), TRUTH)
        assert (abs(mean - TRUTH) < 2 * se) if unbiased else (abs(mean - TRUTH) > 5 * se), label


# 3. SNIPS is a ratio estimator: biased at small n, consistent.

def _snips_and_ips(rng, reps, n, chunk):
    snips, ips = [], []
    for _ in range(reps // chunk):
        x, won, click, conv = draw(rng, chunk, n)
        args = (click, conv, np.full(x.shape, Q), P_CTR[x], oracle_win_weights(x, won))
        snips.append(est.ips_cvr_risk(*args, self_normalize=True, **NO_FLOOR))
        ips.append(est.ips_cvr_risk(*args, **NO_FLOOR))
    return np.concatenate(snips), np.concatenate(ips)


def test_snips_is_consistent_but_biased_at_small_n():
    rng = np.random.default_rng(1)
    small, small_ips = _snips_and_ips(rng, reps=8000, n=1000, chunk=2000)
    large, _ = _snips_and_ips(rng, reps=200, n=100_000, chunk=10)
    small_mean, small_se = report("SNIPS n=1k", small, TRUTH)
    large_mean, large_se = report("SNIPS n=100k", large, TRUTH)
    ips_mean, ips_se = report("IPS n=1k (same draws)", small_ips, TRUTH)
    assert abs(small_mean - TRUTH) > 3 * small_se  # the small-n bias of the ratio is real
    assert abs(ips_mean - TRUTH) < 2 * ips_se  # ... and absent from fixed-N IPS on the same data
    assert abs(large_mean - TRUTH) < abs(small_mean - TRUTH) / 3
    assert abs(large_mean - TRUTH) < 3 * large_se


# 5. Floored win weights estimate a tilted population; trimmed ones the overlap population.

def test_floored_and_trimmed_win_weights_estimate_other_populations():
    floor = 0.3  # two cells have p_win < floor
    tilt = est.win_target_population(P_WIN, floor=floor, clip=1e9)  # min(1, p_win / floor)
    tilted = float(est.request_space_risk(P_CVR, np.full(8, Q), P_X * tilt))
    overlap = float(est.request_space_risk(P_CVR, np.full(8, Q), P_X * (P_WIN >= floor)))
    unnormalised = float(P_X @ (tilt * est.bce(P_CVR, Q)))  # fixed N: E_x[π(x) BCE], mass E[π] < 1
    rng = np.random.default_rng(2)
    floored, floored_fixed_n, trimmed = [], [], []
    for _ in range(10):
        x, won, click, conv = draw(rng, 20, 20_000)
        args = (click, conv, np.full(x.shape, Q), P_CTR[x])
        floored.append(est.ips_cvr_risk(*args, oracle_win_weights(x, won, floor, self_normalize=True), **NO_FLOOR))
        floored_fixed_n.append(est.ips_cvr_risk(*args, oracle_win_weights(x, won, floor), **NO_FLOOR))
        kept = won * (P_WIN[x] >= floor)
        trimmed.append(est.ips_cvr_risk(*args, oracle_win_weights(x, kept, self_normalize=True), **NO_FLOOR))
    mean, se = report("floored, self-normalised", np.concatenate(floored), tilted)
    assert abs(mean - tilted) < 3 * se and abs(mean - TRUTH) > 5 * se
    mean, se = report("floored, fixed N", np.concatenate(floored_fixed_n), unnormalised)
    assert abs(mean - unnormalised) < 3 * se and abs(mean - TRUTH) > 5 * se
    mean, se = report("trimmed", np.concatenate(trimmed), overlap)
    assert abs(mean - overlap) < 3 * se and abs(mean - TRUTH) > 5 * se


# 6. A logistic model trained with the repo's tasks and oracle weights is calibrated over requests.

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


class _LogisticCVR(keras.Model):
    """pCVR = σ(a·features + b) trained by one repo task; pCTR is the oracle p_ctr (the click propensity)."""

    def __init__(self, task, win_weights=None):
        super().__init__()
        self.dense, self.task, self.win_weights = keras.layers.Dense(1), task, win_weights

    def call(self, features):
        return self.dense(features)

    def train_step(self, data):
        features, batch = data
        weight = (self.win_weights(batch[names.TRUE_P_WIN]) if self.win_weights is not None
                  else tf.ones_like(batch[names.CLICK]))
        with tf.GradientTape() as tape:
            outputs = {names.CTR_LOGIT: batch[names.CTR_LOGIT], names.CVR_LOGIT: self(features, training=True)}
            loss = self.task(batch, outputs, weight, compute_metrics=False)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables), self.trainable_variables))
        return {"loss": loss}


def test_model_trained_with_oracle_ipw_is_calibrated_over_requests():
    rng = np.random.default_rng(6)
    n = 200_000
    z = rng.standard_normal((n, 2))  # latent inputs; z[:, 1] drives winning, clicking and converting

    def logistic(b0, b1, b2):
        return _sigmoid(b0 + b1 * z[:, 0] + b2 * z[:, 1])

    p_cvr, p_ctr, p_win = logistic(-1.3, 0.5, 1.0), logistic(-1.0, 0.2, 0.5), logistic(0.5, 0.2, 0.7)
    u = rng.random((3, n))
    won = u[0] < p_win
    click = won & (u[1] < p_ctr)
    conv = click & (u[2] < p_cvr)
    selected = p_win * p_ctr
    assert (selected @ p_cvr / selected.sum()) / p_cvr.mean() > 1.2  # click space converts > 20% more
    batch = {names.CLICK: click[won], names.CONVERSION: conv[won], names.CTR_LOGIT: np.log(p_ctr / (1 - p_ctr))[won],
             names.TRUE_P_WIN: p_win[won]}
    batch = {k: v.astype(np.float32) for k, v in batch.items()}

    def train(columns, ipw):
        keras.utils.set_random_seed(0)
        if ipw:
            model = _LogisticCVR(IPSCVRTask(propensity_floor=1e-3, weight_clip=1e3),
                                 WinPropensityWeights(floor=1e-3, clip=1e3, self_normalize=True))
        else:
            model = _LogisticCVR(CVRTask())
        model.compile(optimizer=keras.optimizers.Adam(0.05))
        features = z[:, columns].astype(np.float32)
        model.fit(tf.data.Dataset.from_tensors((features[won], batch)).repeat(), steps_per_epoch=300, verbose=0)
        p_hat = _sigmoid(model.predict(features, batch_size=n, verbose=0).reshape(-1).astype(np.float64))
        # Score equation of the intercept: Σ c_i (y_i - p_i) = 0 with c the per-row weight of the loss.
        c = (est.click_weights(click[won], p_ctr[won], est.win_weights(p_win[won], 1e-3, 1e3), 1e-3, 1e3) if ipw
             else click[won].astype(float))
        score = c @ (conv[won] - p_hat[won]) / c.sum()
        ratio = p_hat.mean() / p_cvr.mean()
        print(f"features {columns} {'oracle IPW' if ipw else 'naive'}: request-space ratio {ratio:.4f}, "
              f"weighted score {score:+.2e}")
        assert abs(score) < 1e-5
        return ratio

    assert abs(train([0, 1], ipw=True) - 1) < 0.03  # well specified, oracle IPW
    assert abs(train([0, 1], ipw=False) - 1) < 0.03  # well specified: selection on observables, naive is fine too
    assert abs(train([0], ipw=False) - 1) > 0.03  # z[:, 1] dropped: naive calibrates to the click space
    assert abs(train([0], ipw=True) - 1) < 0.05  # ... and oracle IPW restores request-space calibration


def test_snips_dr_on_impression_batches_with_plain_win_weights_targets_the_risk():
    # Training batches hold won impressions only. With plain 1/p_win weights and SNIPS, both DR
    # terms must be normalised by their weights; before the fix the imputed term divided by B and
    # this estimate converged to 1.44 instead of TRUTH = 0.531.
    rng = np.random.default_rng(7)
    estimates = []
    for _ in range(20):
        x, won, click, conv = (a[0] for a in draw(rng, 1, 50_000))
        keep = won == 1
        x, click, conv = x[keep], click[keep], conv[keep]
        weights = 1.0 / P_WIN[x]
        estimates.append(est.dr_cvr_risk(click, conv, np.full(x.shape, Q), P_CTR[x], np.full(x.shape, 0.3),
                                         weights, self_normalize=True, **NO_FLOOR))
    mean, se = report("SNIPS DR, plain win weights on impressions", estimates, TRUTH)
    assert abs(mean - TRUTH) < 3 * se + 2e-3  # + the O(1/B) bias of a ratio estimator
