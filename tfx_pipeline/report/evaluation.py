"""The Evaluator's output read back: metrics per slice and output for the candidate and the baseline,
the calibration plot buckets, the blessing thresholds of its EvalConfig and its validation result."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from mtl_keras import names

CANDIDATE = "candidate"
BASELINE = "baseline"
OVERALL = "overall"


def slice_name(slice_key) -> str:
    """TFMA slice key -> text: () -> "overall", (("device", 1),) -> "device=1"."""
    return ", ".join(f"{k}={v}" for k, v in slice_key) if slice_key else OVERALL


def _load(evaluation_uri: str, model_name: Optional[str]):
    import tensorflow_model_analysis as tfma

    try:
        return tfma.load_eval_result(evaluation_uri, model_name=model_name)
    except (ValueError, KeyError, IOError):
        return None


def _results(evaluation_uri: str) -> Dict[str, Any]:
    """{"candidate": EvalResult, "baseline": EvalResult}; without a baseline TFMA names no model."""
    if not os.path.isdir(evaluation_uri or ""):
        raise ValueError(f"evaluation_uri {evaluation_uri!r} is not a directory; pass the Evaluator's ModelEvaluation "
                         "artifact URI of a run that evaluated a model.")
    candidate = _load(evaluation_uri, CANDIDATE)
    if candidate is None or not candidate.slicing_metrics:
        return {CANDIDATE: _load(evaluation_uri, None)}
    return {CANDIDATE: candidate, BASELINE: _load(evaluation_uri, BASELINE)}


def slice_metrics(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, Dict[str, float]]]]:
    """{model: {slice: {output: {metric: value}}}}, model "candidate" and, against a baseline, "baseline".

    The candidate's metrics hold TFMA's `<metric>_diff` (candidate - baseline) when there is a baseline.
    """
    out: Dict[str, Dict[str, Dict[str, Dict[str, float]]]] = {}
    for model, result in _results(evaluation_uri).items():
        if result is None:
            continue
        for slice_key, by_output in result.slicing_metrics:
            for output, by_class in by_output.items():
                if output not in names.PREDICTION_KEYS:
                    continue
                values = {k: v["doubleValue"] for k, v in by_class.get("", {}).items() if "doubleValue" in v}
                out.setdefault(model, {}).setdefault(slice_name(slice_key), {})[output] = values
    return out


def calibration_plots(evaluation_uri: str) -> Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """{model: {output: (mean prediction, observed rate, weight)}} per non-empty bucket, overall slice."""
    out: Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for model, result in _results(evaluation_uri).items():
        for slice_key, by_output in (result.plots or []) if result is not None else []:
            if slice_key != ():
                continue
            for output, by_class in by_output.items():
                buckets = by_class.get("", {}).get("calibrationHistogramBuckets", {}).get("buckets", [])
                rows = np.array([(b.get("totalWeightedRefinedPrediction", 0.0), b.get("totalWeightedLabel", 0.0),
                                  b.get("numWeightedExamples", 0.0)) for b in buckets], dtype=np.float64).reshape(-1, 3)
                rows = rows[rows[:, 2] > 0]
                if output in names.PREDICTION_KEYS and len(rows):
                    out.setdefault(model, {})[output] = (rows[:, 0] / rows[:, 2], rows[:, 1] / rows[:, 2], rows[:, 2])
    return out


def _metric_name(metric: Dict[str, Any]) -> str:
    config = metric.get("config", "")
    try:
        return json.loads("{" + config + "}").get("name") or metric["className"]
    except (ValueError, TypeError):
        return metric.get("className", "")


def _spec_name(spec: Dict[str, Any]) -> str:
    parts = list(spec.get("featureKeys", [])) + [f"{k}={v}" for k, v in spec.get("featureValues", {}).items()]
    return ", ".join(parts) or OVERALL


def _eval_config(evaluation_uri: str) -> Dict[str, Any]:
    path = os.path.join(evaluation_uri, "eval_config.json")
    if not os.path.exists(path):
        raise ValueError(f"No eval_config.json in {evaluation_uri!r}; pass the URI of a TFMA ModelEvaluation artifact.")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def thresholds(evaluation_uri: str) -> List[Dict[str, Any]]:
    """The blessing rules of the EvalConfig: one dict per thresholded metric and output."""
    rules = []
    for spec in _eval_config(evaluation_uri).get("evalConfig", {}).get("metricsSpecs", []):
        for metric in spec.get("metrics", []):
            for entry in metric.get("perSliceThresholds", []):
                threshold = entry.get("threshold", {})
                value, change = threshold.get("valueThreshold", {}), threshold.get("changeThreshold", {})
                for output in spec.get("outputNames", [""]):
                    rules.append({"output": output, "metric": _metric_name(metric),
                                  "slices": [_spec_name(s) for s in entry.get("slicingSpecs", [{}])],
                                  "lower_bound": value.get("lowerBound"), "upper_bound": value.get("upperBound"),
                                  "change_absolute": change.get("absolute"),
                                  "change_direction": change.get("direction")})
    return rules


def model_locations(evaluation_uri: str) -> Dict[str, str]:
    """{"candidate": path, "baseline": path} of the models the Evaluator compared ("" key: no baseline)."""
    return dict(_eval_config(evaluation_uri).get("modelLocations", {}))


def validation(evaluation_uri: str) -> Dict[str, Any]:
    """{"ok": bool, "failures": [text]}: TFMA's check of the thresholds (what the blessing follows)."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            failures.append(f"{failure.metric_key.output_name or ''} {failure.metric_key.name}: {failure.message}"
                            .strip())
    return {"ok": bool(result.validation_ok), "failures": failures}
