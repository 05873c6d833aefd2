"""A model card per pushed model, as JSON with model-card-toolkit's field names (schema 0.0.2).

model-card-toolkit itself does not install beside this stack (every release pins
tensorflow-model-analysis < 0.42, the pipeline runs 0.47), so the card is written directly from
the run's facts in ML Metadata: data (rows per split, date, schema), the Trainer's ModelConfig,
TFMA metrics per task and slice, calibration before/after, win-model metrics, the blessing and its
thresholds, and the limitations of the selection correction.

Where: `<serving_dir>/<version>/assets.extra/model_card.json`, inside the pushed version, so that
the card travels with the model it describes (copying or syncing a version carries it) next to
calibration_report.json. TF Serving reads only tf_serving_warmup_requests from assets.extra and
loads numeric version directories only, so the card changes nothing it serves.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any, Dict, List, Optional, Union

from mtl_keras import names
from tfx_pipeline import builders as b

SCHEMA_VERSION = "0.0.2"
CARD_FILE = "model_card.json"
# Metrics of the candidate put in the card (TFMA names), and the *_diff of the blessing metric.
_TFMA_METRICS = ("auc", "auc_diff", "binary_crossentropy", "calibration", "mean_label", "mean_prediction",
                 "example_count", "weighted_example_count")
_CALIBRATION_METRICS = ("ece", "calibration_ratio", "log_loss", "auc")


def card_path(pushed_destination: str) -> str:
    """Where the card of the version pushed to `pushed_destination` goes."""
    return os.path.join(pushed_destination, "assets.extra", CARD_FILE)


def _uri(path: str) -> str:
    return path if "://" in path else pathlib.Path(path).absolute().as_uri()


def _metric(kind: str, value: Any, slice_: str, threshold: str = "") -> Optional[Dict[str, Any]]:
    if value is None or not math.isfinite(float(value)):
        return None
    entry = {"type": kind, "value": float(value), "slice": slice_}
    if threshold:
        entry["threshold"] = threshold
    return entry


def _rule_text(rule: Dict[str, Any]) -> str:
    parts = []
    if rule["lower_bound"] is not None:
        parts.append(f">= {rule['lower_bound']}")
    if rule["upper_bound"] is not None:
        parts.append(f"<= {rule['upper_bound']}")
    if rule["change_absolute"] is not None:
        parts.append(f"change vs the latest blessed model >= {rule['change_absolute']} ({rule['change_direction']})")
    return f"{rule['output']} {rule['metric']} " + " and ".join(parts) + f" on slice {', '.join(rule['slices'])}"


def _evaluation_metrics(evaluation_uri: str) -> List[Dict[str, Any]]:
    from tfx_pipeline.report import evaluation

    rules = evaluation.thresholds(evaluation_uri)
    metrics = []
    for slice_, by_output in evaluation.slice_metrics(evaluation_uri).get(evaluation.CANDIDATE, {}).items():
        for output, values in by_output.items():
            for name in _TFMA_METRICS:
                rule = "; ".join(_rule_text(r) for r in rules if r["output"] == output and r["metric"] == name
                                 and slice_ in r["slices"])
                metrics.append(_metric(f"{output} {name}", values.get(name), slice_, rule))
    return metrics


def _calibration_metrics(model_dir: str) -> List[Dict[str, Any]]:
    from tfx_pipeline.report import readers

    report = readers.calibration_report(model_dir)
    if report is None:
        return []
    kind = report.get("settings", {}).get("kind", "")
    metrics = []
    for output, entry in readers.calibration_summary(report).items():
        where = f"eval split, {entry['space']} space, cross-fitted halves ({kind})"
        for when in ("before", "after"):
            for name in _CALIBRATION_METRICS:
                metrics.append(_metric(f"{output} {name} {when} calibration", entry[when].get(name), where))
    return metrics


def _win_metrics(facts) -> tuple:
    """(metric entries, share of eval requests under the propensity floor or None)."""
    from tfx_pipeline.report import readers

    metrics, below = [], None
    info = readers.win_model_info(facts.output(b.WIN_PROPENSITY, "win_model"))
    for key in ("rows", "events", "censored"):
        value = (info or {}).get("fit_info", {}).get(key)
        metrics.append(_metric(f"win model fit {key}", value, f"{(info or {}).get('kind', '')} fit split"))
    scored, schema = facts.output(b.WIN_PROPENSITY, "scored_examples"), facts.output(b.WIN_PROPENSITY,
                                                                                        "scored_schema")
    if scored and schema:
        frame = readers.win_frame(scored, schema)
        for key, value in readers.win_metrics(frame).items():
            metrics.append(_metric(f"p_win {key}", value, "eval split requests (won vs p_win)"))
        floor = float(facts.model_config().get("win_propensity_floor", 0.05))
        below = float((frame[names.P_WIN] < floor).mean())
    return metrics, below


def _graphics(evaluation_uri: str) -> Dict[str, Any]:
    from tfx_pipeline.report import evaluation, figures

    plots = evaluation.calibration_plots(evaluation_uri)
    collection = []
    for output in names.PREDICTION_KEYS:
        curves = {model: by_output[output] for model, by_output in plots.items() if output in by_output}
        if curves:
            uri = figures.reliability(output, curves)
            collection.append({"name": f"reliability {output}", "image": uri.split(",", 1)[1]})
    return {"description": "Reliability diagrams of the served (calibrated) outputs on the eval split: TFMA "
                           "calibration plot buckets, the baseline beside the candidate when there is one.",
            "collection": collection}


def _datasets(facts) -> List[Dict[str, Any]]:
    from tfx.utils import io_utils

    from tfx_pipeline.report import readers

    examples = facts.output(b.EXAMPLE_GEN, "examples")
    schema_uri = facts.output(b.SCHEMA_GEN, "schema")
    schema = io_utils.get_only_uri_in_dir(schema_uri) if schema_uri else "none"
    created = facts.created.get(examples)
    details = facts.step(b.EXAMPLE_GEN).details if facts.step(b.EXAMPLE_GEN) else {}
    base = details.get("input_base") or facts.properties.get(b.EXAMPLE_GEN, {}).get("input_base", "")
    data = []
    for split, rows in readers.split_rows(facts.output(b.STATISTICS_GEN, "statistics")).items():
        data.append({"name": split, "link": _uri(base) if base else _uri(examples),
                     "description": f"{rows} requests in the {split} split (hash split of {base}); examples "
                                    f"{examples}, ingested {created:%Y-%m-%d %H:%M} UTC; schema {schema}."})
    return data


def _architecture(config: Dict[str, Any], calibration: Optional[Dict[str, Any]]) -> str:
    backbone = dict(config["backbone"]) if isinstance(config["backbone"], dict) else {"name": config["backbone"]}
    objective = dict(config["objective"]) if isinstance(config["objective"], dict) else {"name": config["objective"]}
    text = (f"backbone {backbone.pop('name')} {json.dumps(backbone, sort_keys=True)}, objective "
            f"{objective.pop('name')} {json.dumps(objective, sort_keys=True)}, towers {config['tower_units']}, "
            f"task weights {config.get('task_weights')} ({config.get('weighting')}), {config['epochs']} epochs at "
            f"batch {config['batch_size']}, learning rate {config['learning_rate']}")
    if config.get("win_weighting"):
        text += (f"; losses weighted by 1/p_win (floor {config['win_propensity_floor']}, clip "
                 f"{config['win_weight_clip']}, self-normalised {config.get('win_self_normalize')})")
    if calibration:
        text += f"; {calibration['kind']} calibration in the {calibration['space']} space fitted on the eval split"
    return text


def _considerations(config: Dict[str, Any], win_kind: str, below_floor: Optional[float]) -> Dict[str, Any]:
    floor, clip = config["win_propensity_floor"], config["win_weight_clip"]
    share = f" ({below_floor:.1%} of eval requests are under it)" if below_floor is not None else ""
    limitations = [
        "Selection: labels exist on won impressions only; the 1/p_win weights correct the selection only if "
        "winning is ignorable given the features and the bid (no unobserved factor, such as user intent, moves "
        "both the market price and clicks or conversions).",
        f"Positivity / overlap: p_win is floored at {floor} and weights clipped at {clip}{share}; requests that "
        "rarely win are extrapolated and their estimates are biased toward the won ones.",
        f"The win model ({win_kind}) is a parametric or binned model of the market price; misspecification of "
        "that distribution biases every weight.",
        "Calibrators are fitted on the eval split: the Evaluator's calibrated metrics are in sample for them; "
        "the cross-fitted before/after figures are the out-of-sample ones.",
        "Blessing thresholds apply to the overall slice only; slices are reported, not gated.",
    ]
    return {
        "users": [{"description": "Bidding and ranking services that read p_ctr, p_cvr and p_ctcvr per request."}],
        "use_cases": [{"description": "Expected value per bid request (p_ctcvr x conversion value) for bid pricing "
                                      "and ranking of candidate ads."}],
        "limitations": [{"description": text} for text in limitations],
        "tradeoffs": [{"description": f"The weight clip ({clip}) and floor ({floor}) trade variance for bias in "
                                      "the request-space estimates."},
                      {"description": "Monotone calibration keeps the ranking (AUC) and changes the levels."}],
        "ethical_considerations": [{
            "name": "Feedback loop: the model's bids decide which impressions are won, hence its future labels.",
            "mitigation_strategy": "Keep bidding on low-propensity traffic (overlap) and retrain with the 1/p_win "
                                   "weighting; watch the share of requests under the propensity floor."}],
    }


def model_card(pipeline_root_or_metadata_path: Union[str, os.PathLike],
               model_version: Optional[Union[str, int]] = None) -> Dict[str, Any]:
    """The card of pushed `model_version` (None: the latest pushed) as a dict of MCT fields."""
    return _card(pipeline_root_or_metadata_path, model_version)[0]


def _card(pipeline_root_or_metadata_path, model_version) -> tuple:
    """(card, pushed destination)."""
    from tfx_pipeline.report import evaluation, run_facts

    facts, pusher = run_facts.pushed_run_facts(pipeline_root_or_metadata_path, model_version)
    config = facts.model_config()
    evaluation_uri = facts.output(b.EVALUATOR, "evaluation")
    if config is None or evaluation_uri is None:
        raise ValueError(f"model_card: run {facts.run_id} lacks a Trainer or an Evaluator execution; the card needs "
                         "both (rerun the pipeline to push a model).")
    calibration = facts.custom_config(b.TRAINER).get("calibration")
    model_dir = pusher.inputs["model"][0]
    win_metrics, below_floor = _win_metrics(facts)
    blessing_uri = pusher.inputs.get("model_blessing", [""])[0]
    blessed = os.path.exists(os.path.join(blessing_uri, "BLESSED"))
    baseline = evaluation.model_locations(evaluation_uri).get(evaluation.BASELINE)
    rules = "; ".join(_rule_text(r) for r in evaluation.thresholds(evaluation_uri))
    metrics = _evaluation_metrics(evaluation_uri) + _calibration_metrics(model_dir) + win_metrics
    metrics.append(_metric("blessed", 1.0 if blessed else 0.0, evaluation.OVERALL, rules))
    destination, version = pusher.details["pushed_destination"], pusher.details["pushed_version"]
    model_run = facts.output(b.TRAINER, "model_run")
    against = f"the baseline {baseline}" if baseline else "no baseline (first blessed model: value thresholds only)"
    outputs = ", ".join(names.PREDICTION_KEYS)
    card = {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": f"{facts.pipeline_name or 'mtl-ads'} multi-task conversion model",
            "overview": f"Predicts {outputs} for bid requests; trained by the TFX pipeline run {facts.run_id}.",
            "documentation": f"Trainer model {model_dir}, pushed to {destination}. Evaluated by TFMA against "
                             f"{against}; blessed: {blessed}. TensorBoard logdir: {model_run}.",
            "version": {"name": version, "date": f"{pusher.end_time:%Y-%m-%d}",
                        "diff": f"{'Blessed' if blessed else 'Not blessed'} against {against}; thresholds: {rules}."},
            "references": [{"reference": _uri(p)} for p in (destination, evaluation_uri, model_run) if p],
        },
        "model_parameters": {
            "model_architecture": _architecture(config, calibration),
            "data": _datasets(facts),
            "input_format": "serving_default: serialized tf.Example with the raw features "
                            f"{[f['name'] for f in config['features'].get('categorical', [])]} (categorical) and "
                            f"{[f['name'] for f in config['features'].get('numeric', [])]} (numeric); predict_raw: "
                            "one [batch] tensor per raw feature.",
            "output_format": f"{outputs}: [batch] float32 probabilities"
                             + (", calibrated, with the raw ones as *_uncalibrated." if calibration else "."),
        },
        "quantitative_analysis": {"performance_metrics": [m for m in metrics if m is not None],
                                  "graphics": _graphics(evaluation_uri)},
        "considerations": _considerations(config, _win_kind(facts), below_floor),
    }
    return card, destination


def _win_kind(facts) -> str:
    from tfx_pipeline.report import readers

    info = readers.win_model_info(facts.output(b.WIN_PROPENSITY, "win_model"))
    return info["kind"] if info else "unknown"


def write_model_card(metadata_path: Union[str, os.PathLike], model_version: Optional[Union[str, int]] = None,
                     out_path: Optional[str] = None) -> str:
    """Writes the card of pushed `model_version` (None: the latest) to `out_path` (default:
    `<pushed version>/assets.extra/model_card.json`); returns the path written."""
    if out_path is not None and not str(out_path).lower().endswith(".json"):
        raise ValueError(f"write_model_card: `out_path` must be a .json file (or None for the pushed version's "
                         f"assets.extra/{CARD_FILE}), got {out_path!r}.")
    card, destination = _card(metadata_path, model_version)
    path = os.fspath(out_path) if out_path is not None else card_path(destination)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=1, allow_nan=False)
    os.replace(tmp, path)
    return path
