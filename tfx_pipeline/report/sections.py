"""The run report's sections, each an HTML <section> with a fixed id, built from a run's RunFacts.

A section whose input the run lacks (a failed or partial run) says so instead of failing.
"""
from __future__ import annotations

import html
from typing import Any, Dict, Iterable, List, Optional, Sequence

from mtl_keras import names
from tfx_pipeline import builders as b
from tfx_pipeline.report import evaluation, figures, readers

SUMMARY, TIMELINE, DATA_VALIDATION, METRICS = "summary", "timeline", "data-validation", "metrics"
RELIABILITY, WIN_CURVE, GATE_USAGE, LINKS = "reliability", "win-curve", "gate-usage", "links"
SECTION_IDS = (SUMMARY, TIMELINE, DATA_VALIDATION, METRICS, RELIABILITY, WIN_CURVE, GATE_USAGE, LINKS)
_SHOWN = ("auc", "binary_crossentropy", "calibration", "mean_label", "mean_prediction", "example_count",
          "weighted_example_count")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    return esc(value)


def section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(section_id)}">\n<h2>{esc(title)}</h2>\n{body}\n</section>'


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{number(c)}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def summary(facts, blessed: Optional[bool], pushed: Optional[str]) -> str:
    start = min(s.start_time for s in facts.steps)
    end = max(s.end_time for s in facts.steps)
    failed = [s.component for s in facts.steps if s.state not in ("COMPLETE", "CACHED")]
    rows = [("pipeline", facts.pipeline_name), ("run", facts.run_id), ("ML Metadata", facts.metadata_path),
            ("started (UTC)", f"{start:%Y-%m-%d %H:%M:%S}"), ("wall seconds", (end - start).total_seconds()),
            ("failed components", ", ".join(failed) or "none"),
            ("blessed", "not evaluated" if blessed is None else blessed), ("pushed", pushed or "nothing pushed")]
    return section(SUMMARY, "Run", table(("field", "value"), rows))


def timeline(facts) -> str:
    rows = [(s.component, s.state, "yes" if s.cached else "", f"{s.start_time:%H:%M:%S}", f"{s.end_time:%H:%M:%S}",
             s.seconds) for s in facts.steps]
    body = image(figures.timeline(list(facts.steps)), "component timeline") + table(
        ("component", "state", "cached", "start (UTC)", "end (UTC)", "seconds"), rows)
    return section(TIMELINE, "Component timeline", body)


def data_validation(facts) -> str:
    parts = []
    statistics = facts.output(b.STATISTICS_GEN, "statistics")
    if statistics:
        parts.append(table(("split", "rows"), readers.split_rows(statistics).items()))
    anomalies_uri = facts.output(b.EXAMPLE_VALIDATOR, "anomalies")
    if anomalies_uri:
        found = readers.anomalies(anomalies_uri)
        rows = [(split, "none") for split, problems in found.items() if not problems]
        rows += [(split, problem) for split, problems in found.items() for problem in problems]
        parts.append(table(("split", "ExampleValidator anomalies"), rows))
    else:
        parts.append(note("ExampleValidator did not run in this run."))
    gate = facts.step(b.GATE)
    verdict = readers.validation_verdict(facts.output(b.GATE, "validation"))
    if gate is None:
        parts.append(note("The data validation gate did not run."))
    else:
        problems = readers.schema_problems(facts.input(b.GATE, "schema"),
                                           facts.properties.get(b.GATE, {}).get("feature_spec_json", ""))
        if problems:
            parts.append(table(("gate: schema problems for the FeatureSpec",), [(p,) for p in problems]))
        outcome = ("the data passed" if verdict and verdict.get("passed")
                   else "the data failed validation, the run stopped before training")
        columns = f" ({verdict['columns']} schema columns checked)" if verdict and "columns" in verdict else ""
        parts.append(f'<p class="verdict">Gate {esc(gate.state)}: {esc(outcome)}{esc(columns)}.</p>')
    return section(DATA_VALIDATION, "Data validation", "\n".join(parts))


def metrics(evaluation_uri: Optional[str]) -> str:
    if not evaluation_uri:
        return section(METRICS, "Evaluation (TFMA)", note("No Evaluator output in this run: nothing was evaluated."))
    by_model = evaluation.slice_metrics(evaluation_uri)
    candidate, baseline = by_model.get(evaluation.CANDIDATE, {}), by_model.get(evaluation.BASELINE, {})
    parts = [note(f"Against the baseline {evaluation.model_locations(evaluation_uri).get(evaluation.BASELINE)}."
                  if baseline else "No baseline: the first blessed model is checked against value thresholds only.")]
    for output in names.PREDICTION_KEYS:
        rows = []
        for slice_, by_output in candidate.items():
            values = by_output.get(output, {})
            base = baseline.get(slice_, {}).get(output, {})
            rows += [(slice_, m, values[m], base.get(m), values.get(f"{m}_diff")) for m in _SHOWN if m in values]
        if rows:
            parts.append(f"<h3>{esc(output)}</h3>" + table(("slice", "metric", "candidate", "baseline", "diff"), rows))
    rules = [(r["output"], r["metric"], ", ".join(r["slices"]), r["lower_bound"], r["upper_bound"],
              r["change_absolute"], r["change_direction"]) for r in evaluation.thresholds(evaluation_uri)]
    parts.append("<h3>Blessing thresholds</h3>" + table(
        ("output", "metric", "slices", "lower bound", "upper bound", "change (absolute)", "direction"), rules))
    result = evaluation.validation(evaluation_uri)
    failures = "; ".join(result["failures"]) or "no threshold failed"
    parts.append(f'<p class="verdict">TFMA validation {"passed" if result["ok"] else "failed"}: {esc(failures)}.</p>')
    return section(METRICS, "Evaluation (TFMA)", "\n".join(parts))


def reliability(evaluation_uri: Optional[str], model_dir: Optional[str]) -> str:
    parts = []
    plots = evaluation.calibration_plots(evaluation_uri) if evaluation_uri else {}
    images = []
    for output in names.PREDICTION_KEYS:
        curves = {model: by_output[output] for model, by_output in plots.items() if output in by_output}
        if curves:
            images.append(image(figures.reliability(output, curves), f"reliability {output}"))
    parts.append('<div class="row">' + "".join(images) + "</div>" if images
                 else note("No TFMA calibration plot in this run (no evaluation)."))
    report = readers.calibration_report(model_dir) if model_dir else None
    if report is None:
        parts.append(note("The Trainer fitted no calibration: the served outputs are the raw ones."))
    else:
        rows = []
        for output, entry in readers.calibration_summary(report).items():
            for metric in ("ece", "calibration_ratio", "log_loss", "auc"):
                rows.append((output, metric, entry["before"].get(metric), entry["after"].get(metric), entry["rows"]))
        settings = report.get("settings", {})
        parts.append(note(f"{settings.get('kind', '')} calibration in the {settings.get('space', '')} space, fitted on "
                          "the eval split; figures below are cross-fitted (each half scored by calibrators fitted "
                          "on the other half)."))
        parts.append(table(("output", "metric", "before", "after", "rows"), rows))
        pngs = readers.calibration_plots(model_dir)
        if pngs:
            parts.append(note("Reliability before vs after calibration, on the held-out half (b)."))
            parts.append('<div class="row">' + "".join(image(uri, f"calibration {o}") for o, uri in pngs.items())
                         + "</div>")
    return section(RELIABILITY, "Reliability and calibration", "\n".join(parts))


def win_curve(facts) -> str:
    scored = facts.output(b.WIN_PROPENSITY, "scored_examples")
    schema = facts.output(b.WIN_PROPENSITY, "scored_schema")
    if not (scored and schema):
        return section(WIN_CURVE, "Win curve", note("WinPropensity produced no scored requests in this run."))
    frame = readers.win_frame(scored, schema)
    info = readers.win_model_info(facts.output(b.WIN_PROPENSITY, "win_model")) or {}
    fit = info.get("fit_info", {})
    rows = list(readers.win_metrics(frame).items()) + [(f"fit {k}", v) for k, v in fit.items()
                                                       if isinstance(v, (int, float)) and not isinstance(v, bool)]
    body = (image(figures.win_curve(readers.win_curve(frame)), "win curve") +
            note(f"Win model {info.get('kind', '?')}: observed win rate against mean p_win per bid bucket on the eval "
                 "split's requests (p_win at the request's own bid).") + table(("metric", "value"), rows))
    return section(WIN_CURVE, "Win curve", body)


def gate_usage(usage: Optional[Dict[str, Any]], backbone: str, has_gates: bool) -> str:
    if usage is not None:
        body = image(figures.gate_usage(usage), "gate usage") + note(
            "Mean gate weight per expert at the last epoch, from the Trainer's TensorBoard scalars.")
    elif not backbone:
        body = note("The Trainer did not run in this run: no model, no gates.")
    elif has_gates:
        body = note(f"Backbone {backbone} has gates but the TensorBoard logdir holds no gate scalars.")
    else:
        body = note(f"Backbone {backbone} has no gates: nothing to show.")
    return section(GATE_USAGE, "Gate usage", body)


def links(card: Optional[str], card_note: str, logdir: Optional[str], logdir_href: Optional[str]) -> str:
    items: List[str] = []
    if card:
        items.append(f'<li>Model card: <a id="model-card-link" href="{esc(card)}">{esc(card)}</a> '
                     f"{esc(card_note)}</li>")
    else:
        items.append(f"<li>Model card: {esc(card_note)}</li>")
    if logdir:
        items.append(f'<li>TensorBoard logdir: <a id="tensorboard-link" href="{esc(logdir_href)}">{esc(logdir)}</a>'
                     f" (<code>tensorboard --logdir {esc(logdir)}</code>)</li>")
    else:
        items.append("<li>TensorBoard logdir: the Trainer did not run in this run.</li>")
    return section(LINKS, "Links", "<ul>" + "".join(items) + "</ul>")
