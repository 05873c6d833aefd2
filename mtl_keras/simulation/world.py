"""FunnelWorld: the generative model of the simulator (effect tables, intercepts, one block of rows).

Per request, with z the standardised numeric features and T_*[f] per-id effect tables:
  q = Σ_f T_q[f][id_f] + z·w_q              shared value signal (drives CTR, CVR, bids, competition)
  logit p_ctr = a_ctr + q + c               c: CTR-specific effects
  logit p_cvr = a_cvr + β q + v             v: CVR-specific effects, β = bias_strength
  v_z = standardised log(p_ctr p_cvr)       expected value of the request, as the bidder sees it
  log bid = a_bid + 0.8 β v_z + 0.25 ε_b
  log market price ~ Normal(μ_m, σ²),  μ_m = log(median) + m + 0.2 β v_z   (m: context effects)
  won = bid > market price; true_p_win = Φ((log bid − μ_m) / σ)
Intercepts are solved on a calibration sample so that the request-space means of true_p_ctr,
true_p_cvr and true_p_win equal the configured base rates.
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
_TABLE_STREAM, _CALIBRATION_STREAM = 2**32 - 1, 2**32 - 2


class FunnelWorld:
    """Effect tables and intercepts drawn once from the seed; `block(i)` draws rows of block i."""

    def __init__(self, config: SimulationConfig):
        self.config = config
        rng = np.random.default_rng([config.seed, _TABLE_STREAM])
        self.categorical = list(zip(config.categorical_names, config.vocabularies))
        self.numeric_mean = np.array(config.numeric_means)
        self.numeric_std = np.array(config.numeric_stds)
        self.permutations = [rng.permutation(size) for _, size in self.categorical]
        cat_share = 0.5 if config.num_numeric and config.num_categorical else 1.0
        self.tables: Dict[str, list] = {}
        self.weights: Dict[str, np.ndarray] = {}
        for latent, sd in _LATENT_SD.items():
            tables = []
            for _, size in self.categorical:
                table_sd = sd * np.sqrt(cat_share / max(config.num_categorical, 1))
                if latent == "m":  # competition follows the context (small vocabularies) more than ids
                    table_sd *= np.sqrt(2.0 / (1.0 + size / _UNIFORM_MAX_VOCABULARY))
                tables.append(rng.normal(0.0, table_sd, size))
            self.tables[latent] = tables
            num_sd = sd * np.sqrt((1.0 - cat_share) / config.num_numeric) if config.num_numeric else 0.0
            self.weights[latent] = rng.normal(0.0, num_sd, config.num_numeric)
        self._calibrate()

    def _calibrate(self) -> None:
        config = self.config
        raw = self._draw(np.random.default_rng([config.seed, _CALIBRATION_STREAM]), BLOCK_SIZE)
        beta = config.bias_strength
        self.a_ctr = _solve_intercept(raw["q"] + raw["c"], config.base_ctr, special.expit)
        self.a_cvr = _solve_intercept(beta * raw["q"] + raw["v"], config.base_cvr, special.expit)
        value = self._log_value(raw)
        self.value_mean, self.value_std = float(value.mean()), float(value.std()) or 1.0
        spread = self._log_bid_offset(raw) - self._market_mu(raw)
        self.a_bid = _solve_intercept(spread / config.market_price_sigma, config.base_win_rate, special.ndtr,
                                      scale=1.0 / config.market_price_sigma)

    def _draw(self, rng: np.random.Generator, n: int) -> Dict[str, np.ndarray]:
        """Features, latents and noise of n requests (everything random, before intercepts apply)."""
        out: Dict[str, np.ndarray] = {}
        latents = {k: np.zeros(n) for k in _LATENT_SD}
        for j, (name, size) in enumerate(self.categorical):
            if size <= _UNIFORM_MAX_VOCABULARY:
                ids = rng.integers(0, size, n)
            else:  # power-law popularity, popular ids scattered over the range
                ids = self.permutations[j][(size * rng.random(n) ** 3).astype(np.int64)]
            out[name] = ids.astype(np.int64)
            for k in latents:
                latents[k] += self.tables[k][j][ids]
        if self.config.num_numeric:
            z = rng.standard_normal((n, self.config.num_numeric))
            for i, name in enumerate(self.config.numeric_names):
                out[name] = (self.numeric_mean[i] + self.numeric_std[i] * z[:, i]).astype(np.float32)
            for k in latents:
                latents[k] += z @ self.weights[k]
        out.update(latents)
        out["eps_bid"] = rng.standard_normal(n)
        out["eps_market"] = rng.standard_normal(n)
        out["u_click"] = rng.random(n)
        out["u_conversion"] = rng.random(n)
        return out

    def _log_value(self, raw) -> np.ndarray:
        beta = self.config.bias_strength
        return -np.logaddexp(0, -(self.a_ctr + raw["q"] + raw["c"])) - np.logaddexp(
            0, -(self.a_cvr + beta * raw["q"] + raw["v"])
        )

    def _value_z(self, raw) -> np.ndarray:
        return (self._log_value(raw) - self.value_mean) / self.value_std

    def _log_bid_offset(self, raw) -> np.ndarray:
        return _BID_VALUE_WEIGHT * self.config.bias_strength * self._value_z(raw) + _BID_NOISE * raw["eps_bid"]

    def _market_mu(self, raw) -> np.ndarray:
        value_term = _MARKET_VALUE_WEIGHT * self.config.bias_strength * self._value_z(raw)
        return np.log(self.config.market_price_median) + raw["m"] + value_term

    def block(self, index: int) -> Dict[str, np.ndarray]:
        """All columns of block `index` (BLOCK_SIZE rows), in output order."""
        config = self.config
        raw = self._draw(np.random.default_rng([config.seed, index]), BLOCK_SIZE)
        p_ctr = special.expit(self.a_ctr + raw["q"] + raw["c"])
        p_cvr = special.expit(self.a_cvr + config.bias_strength * raw["q"] + raw["v"])
        log_bid = self.a_bid + self._log_bid_offset(raw)
        mu = self._market_mu(raw)
        log_market = mu + config.market_price_sigma * raw["eps_market"]
        won = log_bid > log_market
        potential_click = raw["u_click"] < p_ctr
        potential_conversion = raw["u_conversion"] < p_cvr
        click = won & potential_click
        out = {n: raw[n] for n in config.categorical_names + config.numeric_names}
        out[names.BID_PRICE] = np.exp(log_bid)
        out[names.WON] = won.astype(np.int64)
        out[names.MARKET_PRICE] = np.where(won, np.exp(log_market), np.nan)
        out[names.CLICK] = click.astype(np.int64)
        out[names.CONVERSION] = (click & potential_conversion).astype(np.int64)
        out[names.TRUE_P_WIN] = special.ndtr((log_bid - mu) / config.market_price_sigma)
        out[names.TRUE_P_CTR] = p_ctr
        out[names.TRUE_P_CVR] = p_cvr
        out[names.POTENTIAL_CLICK] = potential_click.astype(np.int64)
        out[names.POTENTIAL_CONVERSION] = potential_conversion.astype(np.int64)
        return out


def _solve_intercept(offset: np.ndarray, target: float, link, scale: float = 1.0) -> float:
    """The a with mean(link(scale * a + offset)) == target (monotone in a, so a bracketed root)."""
    return float(optimize.brentq(lambda a: float(np.mean(link(scale * a + offset))) - target, -60.0, 60.0))
