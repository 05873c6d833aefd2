"""The TFMA EvalConfig of the pipeline's Evaluator: per-task metrics, CVR on clicks, blessing.

Evaluation runs on the won impressions of the eval split (the only rows with labels). CTR and
CTCVR are measured over impressions, CVR over clicked impressions (its example weight is `click`,
so unclicked rows count zero). With `ipw`, every task is weighted by the clipped 1/p_win written by
the WinPropensity component, which estimates the metrics over the whole request space.
Thresholds apply to the overall slice only: on a `click=1` slice the CTR label has one class and
AUC is undefined, which would block every blessing.
"""
from __future__ import annotations

from typing import Dict, Sequence

import tensorflow_model_analysis as tfma

from mtl_keras import names
from tfx_pipeline import names as pipeline_names
from serving import names as serving_names

METRIC_AUC = "auc"
METRIC_LOG_LOSS = "binary_crossentropy"


def _metrics(num_buckets: int, weighted: bool, auc_threshold=None):
    auc = tfma.MetricConfig(class_name="AUC", config=f'"name": "{METRIC_AUC}"')
    if auc_threshold is not None:
        # On the MetricConfig, not the MetricsSpec: TFMA keys spec-level thresholds without the
        # example-weighting flag, so they never match a computed metric ("Metric not found").
        auc.per_slice_thresholds.append(
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=auc_threshold)
        )
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        auc,
        tfma.MetricConfig(class_name="BinaryCrossEntropy", config=f'"name": "{METRIC_LOG_LOSS}"'),
        tfma.MetricConfig(class_name="MeanLabel"),
        tfma.MetricConfig(class_name="MeanPrediction"),
        tfma.MetricConfig(class_name="Calibration"),
        tfma.MetricConfig(class_name="CalibrationPlot", config=f'"num_buckets": {num_buckets}'),
    ]
    if weighted:
        metrics.insert(1, tfma.MetricConfig(class_name="WeightedExampleCount"))
    return metrics


def make_eval_config(
    ipw: bool = False,
    min_auc: float = 0.5,
    max_auc_drop: float = 0.05,
    blessing_outputs: Sequence[str] = (names.P_CTR,),
    slice_features: Sequence[str] = (),
    num_calibration_buckets: int = 10,
) -> tfma.EvalConfig:
    """Per-task metrics and the blessing rule: AUC >= `min_auc` and no drop larger than `max_auc_drop`
    against the latest blessed model (the change check is skipped while there is none)."""
    if not 0.0 <= min_auc <= 1.0:
        raise ValueError(f"min_auc must be in [0, 1], got {min_auc!r}.")
    if not max_auc_drop >= 0.0:
        raise ValueError(f"max_auc_drop must be >= 0, got {max_auc_drop!r}.")
    unknown = [o for o in blessing_outputs if o not in names.PREDICTION_KEYS]
    if unknown:
        raise ValueError(f"blessing_outputs {unknown} are not model outputs; choose from {names.PREDICTION_KEYS}.")
    weights: Dict[str, str] = {
        names.P_CTR: pipeline_names.EVAL_IPW,
        names.P_CTCVR: pipeline_names.EVAL_IPW,
        names.P_CVR: pipeline_names.EVAL_IPW_CLICKED if ipw else names.CLICK,
    }
    labels = {names.P_CTR: names.CLICK, names.P_CVR: names.CONVERSION, names.P_CTCVR: names.CONVERSION}
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_auc_drop}
        ),
    )
    metrics_specs = []
    for output in names.PREDICTION_KEYS:
        # CVR is always weighted (by click, or click/p_win); CTR and CTCVR only with ipw.
        weighted = ipw or output == names.P_CVR
        metrics_specs.append(tfma.MetricsSpec(
            output_names=[output],
            metrics=_metrics(num_calibration_buckets, weighted, threshold if output in blessing_outputs else None),
            example_weights=tfma.ExampleWeightOptions(weighted=weighted, unweighted=not weighted),
        ))
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=serving_names.SERVING_DEFAULT,
                label_keys=labels,
                example_weight_keys=weights,
            )
        ],
        metrics_specs=metrics_specs,
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f]) for f in slice_features],
    )
