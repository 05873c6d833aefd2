"""The verdict of a bias benchmark run: per space and metric the best method and whether its
paired difference to ESMM excludes 0, and the issue's goals checked against what was measured."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from benchmarks.bias.aggregate import HIGHER_IS_BETTER, paired, paired_interval
from mtl_keras.ground_truth import SPACE_OVERLAP, SPACE_REQUEST

BASELINE = "esmm"
VERDICT_SPACES = (SPACE_REQUEST, SPACE_OVERLAP)
VERDICT_METRICS = ("cvr_ratio_error", "cvr_ece", "cvr_log_loss", "cvr_auc", "ctcvr_auc", "ctcvr_log_loss")
RATIO_TOLERANCE = 0.05  # oracle IPW: request-space CVR ratio within 1 ± this
MAX_AUC_LOSS = 0.005  # IPW may lose at most this much CTCVR AUC to ESMM


def _higher_is_better(metric: str) -> bool:
    return metric.rsplit("_", 1)[-1] in HIGHER_IS_BETTER


def _mean(per_seed: List[dict], method: str, space: str, metric: str) -> float:
    values = [r[metric] for r in per_seed if r["method"] == method and r["space"] == space]
    return float(np.mean(values)) if values else float("nan")


def verdict(per_seed: List[dict], methods: Sequence[str], scenario: str) -> List[dict]:
    """One row per space × metric: the best method by mean over (world, seed) runs, and its paired
    difference to ESMM with a 95 % interval (None when ESMM itself is best or was not run)."""
    rows = []
    for space in VERDICT_SPACES:
        for metric in VERDICT_METRICS:
            means = {m: _mean(per_seed, m, space, metric) for m in methods}
            means = {m: v for m, v in means.items() if np.isfinite(v)}
            if not means:
                continue
            pick = max if _higher_is_better(metric) else min
            best = pick(means, key=means.get)
            row = {"scenario": scenario, "space": space, "metric": metric, "best": best, "best_mean": means[best],
                   "baseline": BASELINE, "baseline_mean": means.get(BASELINE), "difference": None}
            if best != BASELINE and BASELINE in means:
                x, y = paired(per_seed, best, BASELINE, space, metric)
                row["difference"] = paired_interval(np.subtract(x, y))
            rows.append(row)
    return rows


def goals(per_seed: List[dict], methods: Sequence[str]) -> List[dict]:
    """The issue's targets, each with the measured value and whether it was met (targets, not tests)."""
    out: List[dict] = []
    space = SPACE_REQUEST
    for method in ("oracle_ipw_escm2_ips", "oracle_ipw_escm2_dr", "oracle_both_ipw_escm2_ips"):
        if method in methods:
            ratio = _mean(per_seed, method, space, "cvr_calibration_ratio")
            out.append({"goal": f"request-space CVR ratio within 1 ± {RATIO_TOLERANCE}", "method": method,
                        "measured": ratio, "met": bool(abs(ratio - 1.0) <= RATIO_TOLERANCE)})
    if BASELINE not in methods:
        return out
    for method in ("ipw_escm2_ips", "ipw_escm2_dr"):
        if method not in methods:
            continue
        error, baseline = (_mean(per_seed, m, space, "cvr_ratio_error") for m in (method, BASELINE))
        x, y = paired(per_seed, method, BASELINE, space, "cvr_ratio_error")
        interval = paired_interval(np.subtract(x, y))
        out.append({"goal": "|CVR ratio − 1| at most half of ESMM's, paired interval below 0", "method": method,
                    "measured": error, "baseline": baseline, "interval": interval,
                    "met": bool(error <= 0.5 * baseline and interval["excludes_zero"] and interval["mean"] < 0)})
        x, y = paired(per_seed, method, BASELINE, space, "ctcvr_auc")
        interval = paired_interval(np.subtract(x, y))
        out.append({"goal": f"CTCVR AUC not lower than ESMM's by more than {MAX_AUC_LOSS}", "method": method,
                    "measured": interval["mean"], "interval": interval,
                    "met": bool(interval["mean"] is not None and interval["mean"] >= -MAX_AUC_LOSS)})
    return out


def format_interval(interval: Dict) -> str:
    if interval is None or interval.get("mean") is None:
        return "n/a"
    if interval.get("low") is None:
        return f"{interval['mean']:+.4f}"
    return f"{interval['mean']:+.4f} [{interval['low']:+.4f}, {interval['high']:+.4f}]"
