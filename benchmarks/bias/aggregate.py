"""Mean ± std over (world, seed) runs, paired differences with 95 % intervals, and how many seeds it
took for method differences to exceed their std."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from mtl_keras.ground_truth import METRIC_KEYS, SPACES

# (method, the method the literature says it improves on): ESMM fixes naive CVR's sample
# selection bias, ESCM² fixes ESMM's CVR bias, IPW-ESCM² the impression-vs-request bias, and the
# oracle shows what a perfect propensity model would add.
LITERATURE_PAIRS = (
    ("esmm", "naive"),
    ("escm2_ips", "esmm"),
    ("escm2_dr", "esmm"),
    ("ipw_escm2_ips", "escm2_ips"),
    ("ipw_escm2_dr", "escm2_dr"),
    ("oracle_ipw_escm2_ips", "ipw_escm2_ips"),
    ("oracle_ipw_escm2_dr", "ipw_escm2_dr"),
    ("oracle_both_ipw_escm2_ips", "oracle_ipw_escm2_ips"),
    ("ipw_escm2_dr", "naive"),  # the whole claim: the package's debiased model against the naive one
)
COMPARED_METRICS = ("cvr_ratio_error", "cvr_auc", "cvr_log_loss", "cvr_ece", "ctcvr_auc", "ctcvr_log_loss",
                    "ctr_log_loss", "ctr_ece")
HIGHER_IS_BETTER = {"auc"}


def mean_std(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """{"mean", "std"} with the sample std (ddof=1; 0 for one value); None for non-finite values."""
    values = np.asarray(values, np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return {"mean": None, "std": None}
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return {"mean": float(values.mean()), "std": std}


def paired_interval(differences: Sequence[float], level: float = 0.95) -> Dict[str, Optional[float]]:
    """Mean of paired differences with its Student-t interval: {"mean", "low", "high", "excludes_zero"}.

    One pair gives no interval (low/high None, excludes_zero False)."""
    from scipy import stats

    d = np.asarray(differences, np.float64)
    if d.size == 0 or not np.all(np.isfinite(d)):
        return {"mean": None, "low": None, "high": None, "excludes_zero": False}
    mean = float(d.mean())
    if d.size < 2:
        return {"mean": mean, "low": None, "high": None, "excludes_zero": False}
    half = float(stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return {"mean": mean, "low": mean - half, "high": mean + half,
            "excludes_zero": bool(mean - half > 0 or mean + half < 0)}


def _values(per_seed: List[dict], method: str, space: str, key: str) -> Dict[tuple, float]:
    """{(world, seed): value}: the unit that methods are paired on."""
    return {(r.get("world", 0), r["seed"]): r[key] for r in per_seed if r["method"] == method and r["space"] == space}


def paired(per_seed: List[dict], method: str, baseline: str, space: str, key: str):
    """(method values, baseline values) over the (world, seed) runs both have, in the same order."""
    a, b = _values(per_seed, method, space, key), _values(per_seed, baseline, space, key)
    units = sorted(set(a) & set(b))
    return [a[u] for u in units], [b[u] for u in units]


def aggregate(per_seed: List[dict], backbone: str, methods: Sequence[str]) -> List[dict]:
    """One entry per method × space: method, backbone, space, seeds, rows and every metric as mean/std."""
    results = []
    for method in methods:
        for space in SPACES:
            rows = [r for r in per_seed if r["method"] == method and r["space"] == space]
            if not rows:
                continue
            entry = {"method": method, "backbone": backbone, "space": space, "seeds": len(rows),
                     "rows": mean_std([r["rows"] for r in rows])}
            entry.update({key: mean_std([r[key] for r in rows]) for key in METRIC_KEYS})
            results.append(entry)
    return results


def seeds_to_separate(a: Sequence[float], b: Sequence[float], paired: bool) -> Optional[int]:
    """The fewest first-k seeds from which on (through all seeds) the difference exceeds its std.

    Unpaired: |mean a − mean b| > max(std a, std b), what a reader of the mean ± std table sees.
    Paired: |mean(a − b)| > std(a − b), the per-seed difference against its own spread. None when
    it never holds through the last seed; needs at least 2 seeds.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    separated = []
    for k in range(2, len(a) + 1):
        if paired:
            d = a[:k] - b[:k]
            separated.append(abs(d.mean()) > d.std(ddof=1))
        else:
            gap = abs(a[:k].mean() - b[:k].mean())
            separated.append(gap > max(a[:k].std(ddof=1), b[:k].std(ddof=1)))
    needed = None
    for k, ok in zip(range(len(a), 1, -1), reversed(separated)):
        if not ok:
            break
        needed = k
    return needed


def compare(per_seed: List[dict], methods: Sequence[str]) -> List[dict]:
    """Each literature pair present in `methods`, per space and compared metric: the paired
    difference (method − baseline), whether it points the way the literature says, and seeds needed."""
    out = []
    for method, baseline in LITERATURE_PAIRS:
        if method not in methods or baseline not in methods:
            continue
        for space in SPACES:
            for key in COMPARED_METRICS:
                x, y = paired(per_seed, method, baseline, space, key)
                diff = mean_std(np.subtract(x, y))
                higher = key.rsplit("_", 1)[-1] in HIGHER_IS_BETTER
                improves = None if diff["mean"] is None else bool((diff["mean"] > 0) == higher and diff["mean"] != 0)
                out.append({"method": method, "baseline": baseline, "space": space, "metric": key,
                            "difference": diff, "interval": paired_interval(np.subtract(x, y)),
                            "improves": improves, "seeds": len(x),
                            "seeds_to_separate": seeds_to_separate(x, y, paired=False),
                            "seeds_to_separate_paired": seeds_to_separate(x, y, paired=True)})
    return out
