"""Generated impression logs with known structure (the `ads-bench-v1` shape and smaller variants).

Unlike the funnel simulator (mtl_keras.simulation), this writes impressions only, with no
selection: it is for learning checks, notebooks and speed benchmarks.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature

ADS_BENCH_V1_VOCABULARIES = (100000, 50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 3, 2)


def _intercept(offset: np.ndarray, target: float) -> float:
    """The b with mean(sigmoid(b + offset)) = target (bisection; the mean is monotone in b)."""
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        if np.mean(1.0 / (1.0 + np.exp(-(mid + offset)))) < target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def make_impressions(num_rows: int, vocabulary_sizes: Sequence[int] = ADS_BENCH_V1_VOCABULARIES,
                     num_dense: int = 4, ctr: float = 0.04, cvr: float = 0.08, zipf_exponent: float = 1.1,
                     effect_scale: float = 0.5, correlation: float = 0.5, embedding_dim: int = 16,
                     seed: int = 0) -> Tuple[pd.DataFrame, FeatureSpec]:
    """Impressions with columns c0.. (int64 ids, Zipf-like), d0.. (float32 N(0, 1)), click, conversion (int8).

    Click and conversion logits are sums of per-id latent effects plus dense terms; the CVR effects
    correlate with the CTR effects (`correlation`) but are not the same. Intercepts are solved so that
    mean P(click) = `ctr` and mean P(conversion | click) = `cvr` over the clicked population.
    """
    if num_rows < 1:
        raise ValueError(f"num_rows must be >= 1, got {num_rows}.")
    if not 0 < ctr < 1 or not 0 < cvr < 1:
        raise ValueError(f"ctr and cvr must be in (0, 1), got ctr={ctr}, cvr={cvr}.")
    if not -1 <= correlation <= 1:
        raise ValueError(f"correlation must be in [-1, 1], got {correlation}.")
    rng = np.random.default_rng(seed)
    columns, ctr_offset, cvr_offset = {}, np.zeros(num_rows), np.zeros(num_rows)
    for i, vocabulary in enumerate(vocabulary_sizes):
        weights = 1.0 / np.arange(1, vocabulary + 1) ** zipf_exponent
        # Shuffle so that frequent ids are not always the low ones.
        ids = rng.permutation(vocabulary)[rng.choice(vocabulary, size=num_rows, p=weights / weights.sum())]
        ctr_effect = rng.normal(0.0, effect_scale, vocabulary)
        cvr_effect = correlation * ctr_effect + np.sqrt(1 - correlation ** 2) * rng.normal(0.0, effect_scale, vocabulary)
        columns[f"c{i}"] = ids.astype(np.int64)
        ctr_offset += ctr_effect[ids]
        cvr_offset += cvr_effect[ids]
    for j in range(num_dense):
        values = rng.standard_normal(num_rows).astype(np.float32)
        columns[f"d{j}"] = values
        ctr_offset += 0.3 * (-1) ** j * values
        cvr_offset += 0.3 * values
    p_ctr = 1.0 / (1.0 + np.exp(-(_intercept(ctr_offset, ctr) + ctr_offset)))
    click = rng.random(num_rows) < p_ctr
    # Solve the CVR intercept on the clicked population, where CVR is defined.
    cvr_intercept = _intercept(cvr_offset[click], cvr) if click.any() else 0.0
    p_cvr = 1.0 / (1.0 + np.exp(-(cvr_intercept + cvr_offset)))
    conversion = click & (rng.random(num_rows) < p_cvr)
    frame = pd.DataFrame(columns)
    frame[names.CLICK] = click.astype(np.int8)
    frame[names.CONVERSION] = conversion.astype(np.int8)
    frame[names.TRUE_P_CTR] = p_ctr.astype(np.float32)
    frame[names.TRUE_P_CVR] = p_cvr.astype(np.float32)
    spec = FeatureSpec(
        categorical=[CategoricalFeature(f"c{i}", vocabulary_size=int(v), embedding_dim=embedding_dim)
                     for i, v in enumerate(vocabulary_sizes)],
        numeric=[NumericFeature(f"d{j}") for j in range(num_dense)],
    )
    return frame, spec
