"""The Evaluator weighted by 1/p_win (eval_ipw, the tiny fixture's second run) against numpy.

Both tiny runs evaluate the same (cached) model on the same eval impressions, the first unweighted,
the second with weights w = min(1/max(p_win, floor), clip). The metrics are recomputed here from the
impressions the Evaluator read and the evaluated model's own predictions.
"""
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.simulation import feature_spec
from tfx_pipeline import run_summary
from tfx_pipeline.examples_io import read_frame, split_files
from tfx_pipeline.presets import tiny_model_config, tiny_simulation
from tfx_pipeline import names as pipeline_names
from serving import names as serving_names

LABELS = {names.P_CTR: names.CLICK, names.P_CVR: names.CONVERSION, names.P_CTCVR: names.CONVERSION}


def _eval_impressions(workdir):
    """The eval impressions (columns and serialized records) and the evaluated model's predictions."""
    root = workdir.pipeline_root
    [impressions] = glob.glob(os.path.join(root, "WinPropensity", "impressions", "*"))
    [model_dir] = glob.glob(os.path.join(root, "Trainer", "model", "*", "Format-Serving"))
    files = split_files(impressions, "eval")
    columns = [names.CLICK, names.CONVERSION, names.WON, names.P_WIN, pipeline_names.EVAL_IPW, pipeline_names.EVAL_IPW_CLICKED]
    frame = read_frame(files, {c: tf.io.VarLenFeature(tf.float32 if c.startswith(("p_", "eval")) else tf.int64)
                               for c in columns})
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    serve = tf.saved_model.load(model_dir).signatures[serving_names.SERVING_DEFAULT]
    predictions = {k: v.numpy().reshape(-1).astype(np.float64)
                   for k, v in serve(examples=tf.constant(records)).items() if k in names.PREDICTION_KEYS}
    return frame, predictions


def _expected(frame, predictions, weights):
    """TFMA's metrics per output, by hand: weight w_i per row (CVR: times click)."""
    from sklearn.metrics import roc_auc_score

    out = {}
    click = frame[names.CLICK].to_numpy(np.float64)
    for output, label_name in LABELS.items():
        w = weights * click if output == names.P_CVR else weights
        y, p = frame[label_name].to_numpy(np.float64), predictions[output]
        out[output] = {
            "weighted_example_count": w.sum(),
            "mean_label": np.sum(w * y) / w.sum(),
            "mean_prediction": np.sum(w * p) / w.sum(),
            "calibration": np.sum(w * p) / np.sum(w * y),
            "binary_crossentropy": -np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / w.sum(),
            # TFMA's AUC is the trapezoid over 10,000 thresholds i/9999: predictions in one bucket are
            # tied (half credit), so the exact weighted AUC of the bucket indices is its value.
            "auc": roc_auc_score(y, np.ceil(p * 9999), sample_weight=w),
        }
    return out


def _assert_metrics_match(measured, expected, what):
    for output, values in expected.items():
        for metric, value in values.items():
            if metric == "weighted_example_count" and metric not in measured[output]:
                metric_name = "example_count"  # unweighted specs report the plain count only
            else:
                metric_name = metric
            # TFMA derives AUC from a 10,000-bucket calibration histogram re-binned onto thresholds
            # i/9999; against the bucketed exact AUC that left 4e-4 (unweighted) and 1.2e-3 (weights
            # up to 20) relative here. Everything else is an exact weighted sum.
            tolerance = 2e-3 if metric == "auc" else 1e-5
            assert measured[output][metric_name] == pytest.approx(value, rel=tolerance), (what, output, metric)


def test_ipw_evaluation_reweights_every_task_by_the_clipped_inverse_p_win(tiny_runs):
    workdir, run_ids = tiny_runs
    config = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    frame, predictions = _eval_impressions(workdir)
    p_win = frame[names.P_WIN].to_numpy(np.float64)
    ipw = np.minimum(1.0 / np.maximum(p_win, config.win_propensity_floor), config.win_weight_clip)
    np.testing.assert_allclose(frame[pipeline_names.EVAL_IPW], ipw, rtol=1e-6)
    np.testing.assert_allclose(frame[pipeline_names.EVAL_IPW_CLICKED], ipw * frame[names.CLICK], rtol=1e-6)
    assert np.all(frame[names.WON] == 1) and ipw.min() >= 1.0 and np.ptp(ipw) > 0.5  # weights really vary

    uri = {i: run_summary.latest_artifact_uri(workdir.metadata_path, "ModelEvaluation", run_ids[i]) for i in (0, 1)}
    assert uri[0] != uri[1]
    unweighted, weighted = run_summary.task_metrics(uri[0]), run_summary.task_metrics(uri[1])
    _assert_metrics_match(unweighted, _expected(frame, predictions, np.ones(len(frame))), "unweighted")
    _assert_metrics_match(weighted, _expected(frame, predictions, ipw), "1/p_win")
    # The weighted count estimates the requests behind the impressions: more than the impressions.
    assert weighted[names.P_CTR]["weighted_example_count"] > 1.2 * unweighted[names.P_CTR]["example_count"]
    print("\nunweighted", {o: {k: round(v, 4) for k, v in m.items()} for o, m in unweighted.items()},
          "\nweighted  ", {o: {k: round(v, 4) for k, v in m.items()} for o, m in weighted.items()})
    blessing = run_summary.latest_artifact_uri(workdir.metadata_path, "ModelBlessing", run_ids[1])
    assert run_summary.is_blessed(blessing)  # the AUC threshold held on the weighted overall slice
