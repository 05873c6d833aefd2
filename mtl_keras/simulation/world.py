"""FunnelWorld: the generative model of the simulator (effect tables, intercepts, one block of rows).

Per request, with z the standardised numeric features and T_*[f] per-id effect tables:
  q = Σ_f T_q[f][id_f] + z·w_q              shared value signal (drives CTR, CVR, bids, competition)
  logit p_ctr = a_ctr + q + c               c: CTR-specific effects
  logit p_cvr = a_cvr + β q + v             v: CVR-specific effects, β = bias_strength
  v_z = standardised log(p_ctr p_cvr)       expected value of the request, as the bidder sees it
  log bid = a_bid + 0.8 β v_z + 0.25 ε_b
  log market price ~ Normal(μ_m, σ²),  μ_m = log(median) + m + 0.2 β v_z   (m: context effects)
  won = bid > market price; true_p_win = Φ((log bid − μ_m) / σ)
With intent_strength γ > 0 (the `confounded` scenario) a latent user intent u ~ N(0, 1), never a
feature, adds γ u to both logits and 0.5 γ u to μ_m: high-intent users click and convert more
and are contested harder. true_p_ctr and true_p_cvr are then the feature-level probabilities
E_u[σ(·)] (what any model of the features can reach; Gauss-Hermite), the outcomes are drawn with
u, and true_p_win keeps u (the real propensity). The bidder values requests by the feature-level
probabilities. With observed_buckets, ids of larger vocabularies are written modulo it (the
`misspecified` scenario): selection and outcomes still follow the full ids.
Intercepts are solved on a calibration sample so that the request-space means of true_p_ctr,
true_p_cvr and true_p_win equal the configured base rates. Effect tables and intercepts come from
the world seed, rows from the sample seed (SimulationConfig.world_seed, seed).
"""
from __future__ import annotations

from typing import Dict

import numpy as np
from scipy import optimize, special

from mtl_keras import names
from mtl_keras.simulation.config import SimulationConfig

# Rows are generated in blocks of this size, each from its own seed, so that row i is the same for
# any chunk size and any num_requests.
BLOCK_SIZE = 65_536
_UNIFORM_MAX_VOCABULARY = 32  # smaller vocabularies (device, hour) are uniform, larger ones power-law
_LATENT_SD = {"q": 0.7, "c": 0.5, "v": 0.5, "m": 0.4}
_BID_VALUE_WEIGHT, _BID_NOISE, _MARKET_VALUE_WEIGHT = 0.8, 0.25, 0.2
_MARKET_INTENT_WEIGHT = 0.5
_TABLE_STREAM, _CALIBRATION_STREAM = 2**32 - 1, 2**32 - 2
_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite.hermgauss(24)


class FunnelWorld:
    """Effect tables and intercepts drawn once from the seed; `block(i)` draws rows of block i."""

    def __init__(self, config: SimulationConfig):
        self.config = config
        rng = np.random.default_rng([config.world, _TABLE_STREAM])
        self.categorical = list(zip(config.categorical_names, config.vocabularies))
        self.numeric_mean = np.array(config.numeric_means)
        self.numeric_std = np.array(config.numeric_stds)
        self.permutations = [rng.permutation(size) for _, size in self.categorical]
        cat_share = 0.5 if config.num_numeric and config.num_categorical else 1.0
        # One [vocabulary, 4] table per feature and a [num_numeric, 4] weight matrix: columns are
        # the latents q, c, v, m, so each feature costs one gather per row.
        self.tables = []
        for _, size in self.categorical:
            sd = np.array(list(_LATENT_SD.values())) * np.sqrt(cat_share / max(config.num_categorical, 1))
            sd[3] *= np.sqrt(2.0 / (1.0 + size / _UNIFORM_MAX_VOCABULARY))  # competition follows context more than ids
            self.tables.append(rng.normal(0.0, 1.0, (size, 4)) * sd)
        num_sd = np.array(list(_LATENT_SD.values())) * np.sqrt((1.0 - cat_share) / max(config.num_numeric, 1))
        self.weights = rng.normal(0.0, 1.0, (config.num_numeric, 4)) * num_sd
        self._calibrate()

    def _calibrate(self) -> None:
        config = self.config
        raw = self._draw(np.random.default_rng([config.world, _CALIBRATION_STREAM]), BLOCK_SIZE)
        q, c, v = raw["latent"][:, 0], raw["latent"][:, 1], raw["latent"][:, 2]
        gamma = config.intent_strength
        self.a_ctr = solve_intercept(q + c, config.base_ctr, lambda x: _marginal_expit(x, gamma))
        self.a_cvr = solve_intercept(config.bias_strength * q + v, config.base_cvr, lambda x: _marginal_expit(x, gamma))
        self.value_mean, self.value_std = 0.0, 1.0
        value = self._outcomes(raw)["log_value"]
        self.value_mean, self.value_std = float(value.mean()), float(value.std()) or 1.0
        out = self._outcomes(raw)
        spread = out["log_bid_offset"] - out["market_mu"]
        self.a_bid = solve_intercept(spread / config.market_price_sigma, config.base_win_rate, special.ndtr,
                                      scale=1.0 / config.market_price_sigma)

    def _draw(self, rng: np.random.Generator, n: int) -> Dict[str, np.ndarray]:
        """Features, latents [n, 4] (q, c, v, m) and noise of n requests."""
        out: Dict[str, np.ndarray] = {}
        latent = np.zeros((n, 4))
        for j, (name, size) in enumerate(self.categorical):
            if size <= _UNIFORM_MAX_VOCABULARY:
                ids = rng.integers(0, size, n)
            else:  # power-law popularity, popular ids scattered over the range
                u = rng.random(n)
                ids = self.permutations[j][(size * (u * u * u)).astype(np.int64)]
            out[name] = ids
            latent += np.take(self.tables[j], ids, axis=0)  # np.take: several times faster than T[ids]
        if self.config.num_numeric:
            # float32 draws: about twice as fast, and the numeric columns are float32 anyway.
            z = rng.standard_normal((self.config.num_numeric, n), dtype=np.float32)
            for i, name in enumerate(self.config.numeric_names):
                out[name] = (self.numeric_mean[i] + self.numeric_std[i] * z[i]).astype(np.float32)
                latent += z[i][:, None] * self.weights[i]
        out["latent"] = latent
        noise = rng.standard_normal((2, n), dtype=np.float32)
        out["eps_bid"], out["eps_market"] = noise[0], noise[1]
        uniforms = rng.random((2, n))
        out["u_click"], out["u_conversion"] = uniforms[0], uniforms[1]
        out[names.TRUE_INTENT] = rng.standard_normal(n)  # drawn last: earlier draws match worlds without it
        return out

    def _outcomes(self, raw) -> Dict[str, np.ndarray]:
        """Probabilities, value, bid offset and market location of drawn requests."""
        config, beta = self.config, self.config.bias_strength
        q, c, v, m = raw["latent"].T
        gamma, intent = config.intent_strength, raw[names.TRUE_INTENT]
        ctr_logit, cvr_logit = self.a_ctr + q + c, self.a_cvr + beta * q + v
        p_ctr, p_cvr = _marginal_expit(ctr_logit, gamma), _marginal_expit(cvr_logit, gamma)
        log_value = np.log(p_ctr * p_cvr)
        value_z = (log_value - self.value_mean) / self.value_std
        return {
            "p_ctr": p_ctr,
            "p_cvr": p_cvr,
            # Given the intent too: what the outcomes are drawn from (equal to p_* when gamma is 0).
            "p_ctr_given_intent": special.expit(ctr_logit + gamma * intent) if gamma else p_ctr,
            "p_cvr_given_intent": special.expit(cvr_logit + gamma * intent) if gamma else p_cvr,
            "log_value": log_value,
            "log_bid_offset": _BID_VALUE_WEIGHT * beta * value_z + _BID_NOISE * raw["eps_bid"],
            "market_mu": (np.log(config.market_price_median) + m + _MARKET_VALUE_WEIGHT * beta * value_z
                          + _MARKET_INTENT_WEIGHT * gamma * intent),
        }

    def block(self, index: int) -> Dict[str, np.ndarray]:
        """All columns of block `index` (BLOCK_SIZE rows), in output order."""
        config = self.config
        raw = self._draw(np.random.default_rng([config.seed, index] if config.world_seed is None
                                               else [config.world_seed, config.seed, index]), BLOCK_SIZE)
        o = self._outcomes(raw)
        log_bid = self.a_bid + o["log_bid_offset"]
        log_market = o["market_mu"] + config.market_price_sigma * raw["eps_market"]
        won = log_bid > log_market
        potential_click = raw["u_click"] < o["p_ctr_given_intent"]
        potential_conversion = raw["u_conversion"] < o["p_cvr_given_intent"]
        click = won & potential_click
        out = {n: raw[n] for n in config.categorical_names + config.numeric_names}
        if config.observed_buckets:
            for name, size in self.categorical:
                if size > config.observed_buckets:
                    out[name] = out[name] % config.observed_buckets
        out[names.BID_PRICE] = np.exp(log_bid)
        out[names.WON] = won.astype(np.int64)
        out[names.MARKET_PRICE] = np.where(won, np.exp(log_market), np.nan)
        out[names.CLICK] = click.astype(np.int64)
        out[names.CONVERSION] = (click & potential_conversion).astype(np.int64)
        out[names.TRUE_P_WIN] = special.ndtr((log_bid - o["market_mu"]) / config.market_price_sigma)
        out[names.TRUE_P_CTR] = o["p_ctr"]
        out[names.TRUE_P_CVR] = o["p_cvr"]
        out[names.POTENTIAL_CLICK] = potential_click.astype(np.int64)
        out[names.POTENTIAL_CONVERSION] = potential_conversion.astype(np.int64)
        out[names.TRUE_INTENT] = raw[names.TRUE_INTENT]
        return out


def _marginal_expit(logit: np.ndarray, gamma: float) -> np.ndarray:
    """E_u[σ(logit + γ u)] for u ~ N(0, 1): σ(logit) when γ is 0, else 24-node Gauss-Hermite."""
    if not gamma:
        return special.expit(logit)
    shifts = gamma * np.sqrt(2.0) * _HERMITE_NODES
    return special.expit(np.asarray(logit)[..., None] + shifts) @ (_HERMITE_WEIGHTS / np.sqrt(np.pi))


def solve_intercept(offset: np.ndarray, target: float, link, scale: float = 1.0) -> float:
    """The a with mean(link(scale * a + offset)) == target (monotone in a, so a bracketed root)."""
    return float(optimize.brentq(lambda a: float(np.mean(link(scale * a + offset))) - target, -60.0, 60.0))
