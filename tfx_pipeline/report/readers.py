"""Readers of the pipeline's artifacts for the run report and the model card: rows per split, data
validation, the Trainer's calibration report, and the win model scored on the eval split."""
from __future__ import annotations

import glob
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from mtl_keras import names

CALIBRATION_REPORT = "calibration_report.json"
VALIDATION_FILE = "validation.json"
WIN_MODEL_FILE = "win_model.json"


def _splits(uri: str) -> List[str]:
    found = [os.path.basename(d)[len("Split-"):] for d in glob.glob(os.path.join(uri, "Split-*"))]
    return sorted(found, key=lambda s: (s != "train", s))


def split_rows(statistics_uri: str) -> Dict[str, int]:
    """Rows per split, from StatisticsGen's FeatureStats.pb files."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    rows = {}
    for split in _splits(statistics_uri):
        path = os.path.join(statistics_uri, f"Split-{split}", "FeatureStats.pb")
        if os.path.exists(path):
            with open(path, "rb") as f:
                stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
            rows[split] = int(sum(d.num_examples for d in stats.datasets))
    return rows


def anomalies(anomalies_uri: str) -> Dict[str, List[str]]:
    """ExampleValidator's anomalies per split (messages naming split and column); empty lists when clean."""
    from tfx.types import standard_artifact_utils

    from tfx_pipeline.components.gate import anomaly_problems

    out = {}
    for split in _splits(anomalies_uri):
        out[split] = anomaly_problems(anomalies_uri, standard_artifact_utils.encode_split_names([split]))
    return out


def schema_problems(schema_uri: Optional[str], feature_spec_json: str) -> List[str]:
    """The gate's schema check (columns missing or mistyped for the FeatureSpec), recomputed: a failed
    gate execution records no message in ML Metadata."""
    from tfx.utils import io_utils

    from mtl_keras.features import FeatureSpec
    from tfx_pipeline.components import gate

    if not schema_uri or not feature_spec_json:
        return []
    schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
    return gate.schema_problems(schema, FeatureSpec.from_json(feature_spec_json))


def validation_verdict(validation_uri: Optional[str]) -> Optional[Dict[str, Any]]:
    """The DataValidationGate's validation.json ({"passed": true, "columns": n}); None when absent."""
    path = os.path.join(validation_uri or "", VALIDATION_FILE)
    if not validation_uri or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def calibration_report(model_dir: str) -> Optional[Dict[str, Any]]:
    """calibration_report.json of a Trainer Model artifact or a pushed version; None without calibration."""
    for base in (model_dir, os.path.join(model_dir, "Format-Serving")):
        path = os.path.join(base, "assets.extra", CALIBRATION_REPORT)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    return None


def calibration_plots(model_dir: Optional[str]) -> Dict[str, str]:
    """Output -> data URI of the Trainer's before/after reliability PNG (assets.extra), when it wrote one."""
    import base64

    plots = {}
    for base in (model_dir, os.path.join(model_dir, "Format-Serving")) if model_dir else ():
        for output in names.PREDICTION_KEYS:
            path = os.path.join(base, "assets.extra", f"reliability_{output}.png")
            if output not in plots and os.path.exists(path):
                with open(path, "rb") as f:
                    plots[output] = "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")
    return plots


def calibration_summary(report: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Per output: before / after metrics averaged over the cross-fitted halves (weighted by rows)."""
    halves = list(report.get("cross_fitted", {}).values())
    outputs = [o for o in names.PREDICTION_KEYS if any(o in h for h in halves)]
    summary = {}
    for output in outputs:
        parts = [h[output] for h in halves if output in h]
        counts = np.array([p["count"] for p in parts], dtype=np.float64)
        entry: Dict[str, Any] = {"rows": int(counts.sum()), "positives": int(sum(p["positives"] for p in parts)),
                                 "space": parts[0].get("space", ""),
                                 "weights": parts[0].get("weights_description", "")}
        for when in ("before", "after"):
            entry[when] = {}
            for metric in parts[0][when]:
                values = np.array([p[when][metric] for p in parts], dtype=np.float64)
                ok = np.isfinite(values) & (counts > 0)
                entry[when][metric] = float(np.average(values[ok], weights=counts[ok])) if ok.any() else None
        summary[output] = entry
    return summary


def win_model_info(win_model_uri: Optional[str]) -> Optional[Dict[str, Any]]:
    """{"kind", "fit_info"} of the fitted win model (win_model.json); None when absent."""
    path = os.path.join(win_model_uri or "", WIN_MODEL_FILE)
    if not win_model_uri or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {"kind": data.get("kind", ""), "fit_info": data.get("fit_info", {})}


def win_frame(scored_examples_uri: str, scored_schema_uri: str, split: str = "eval", max_rows: int = 200_000):
    """bid_price, won and p_win of the scored requests of `split` (the WinPropensity output)."""
    from tfx.utils import io_utils

    from tfx_pipeline import examples_io

    schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(scored_schema_uri))
    spec = examples_io.parse_spec_from_schema(schema, [names.BID_PRICE, names.WON, names.P_WIN])
    return examples_io.read_frame(examples_io.split_files(scored_examples_uri, split), spec, max_rows=max_rows)


def win_metrics(frame) -> Dict[str, float]:
    """p_win against `won` on the scored requests: AUC, log loss, ECE, calibration ratio, rates."""
    from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, roc_auc

    won = frame[names.WON].to_numpy(np.float64)
    p_win = np.clip(frame[names.P_WIN].to_numpy(np.float64), 0.0, 1.0)
    if won.size == 0:
        raise ValueError("win_metrics: the frame holds no request; score a split with rows (WinPropensity output).")
    return {"requests": float(won.size), "win_rate": float(won.mean()), "mean_p_win": float(p_win.mean()),
            "auc": roc_auc(won, p_win), "log_loss": log_loss(won, p_win),
            "ece": expected_calibration_error(won, p_win), "calibration_ratio": calibration_ratio(won, p_win)}


def win_curve(frame, num_buckets: int = 12) -> Dict[str, np.ndarray]:
    """Per bid bucket (equal-count): mean bid, observed win rate, mean p_win and request count."""
    bids = frame[names.BID_PRICE].to_numpy(np.float64)
    won = frame[names.WON].to_numpy(np.float64)
    p_win = frame[names.P_WIN].to_numpy(np.float64)
    edges = np.unique(np.quantile(bids, np.linspace(0.0, 1.0, num_buckets + 1)))
    bucket = np.clip(np.searchsorted(edges, bids, side="right") - 1, 0, max(len(edges) - 2, 0))
    present = np.unique(bucket)
    return {"bid": np.array([bids[bucket == j].mean() for j in present]),
            "observed": np.array([won[bucket == j].mean() for j in present]),
            "predicted": np.array([p_win[bucket == j].mean() for j in present]),
            "count": np.array([int((bucket == j).sum()) for j in present])}
