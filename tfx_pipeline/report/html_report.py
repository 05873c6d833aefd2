"""`write_run_report`: one static, self-contained HTML page about a pipeline's latest run.

Images are inline PNG data URIs and the style sheet is inline: the page opens from disk, from a CI
artifact or an e-mail without any other file. Links (model card, TensorBoard logdir) are relative
to the page when they are on the same file system.
"""
from __future__ import annotations

import datetime
import os
import pathlib
from typing import Optional, Tuple, Union

from tfx_pipeline import builders as b
from tfx_pipeline.report import sections
from tfx_pipeline.report.sections import SECTION_IDS  # noqa: F401  (re-exported for callers and tests)

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1em; margin-bottom: .3em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
th { background: #f3f3f3; } td { font-variant-numeric: tabular-nums; }
img { max-width: 100%; margin: .3em .6em .3em 0; } .row { display: flex; flex-wrap: wrap; }
.note { color: #555; font-size: .9em; } .verdict { font-weight: 600; }
nav a { margin-right: 1em; } section { margin-bottom: 1.5em; }
"""


def _href(target: str, page_dir: str) -> str:
    """A link from the page to `target`: relative on the same file system, else a URI."""
    if "://" in target:
        return target
    try:
        return pathlib.PurePath(os.path.relpath(os.path.abspath(target), page_dir)).as_posix()
    except ValueError:  # another drive
        return pathlib.Path(target).absolute().as_uri()


def _model_card(metadata_path: str, pushed, out_path: str) -> Tuple[Optional[str], str]:
    """(card path, note): the pushed version's card, written beside the page when the version has none."""
    from tfx_pipeline.model_card import card_path, write_model_card

    if pushed is None:
        return None, "this run pushed no model (not blessed, or the run stopped before the Pusher)."
    path = card_path(pushed.details["pushed_destination"])
    if os.path.exists(path):
        return path, ""
    stem = os.path.splitext(out_path)[0]
    written = write_model_card(metadata_path, pushed.details["pushed_version"],
                               out_path=f"{stem}_model_card_{pushed.details['pushed_version']}.json")
    return written, "(written beside this report: the pushed version holds no model_card.json yet)"


def _backbone(config) -> Tuple[str, bool]:
    from mtl_keras.config import ModelConfig

    if config is None:
        return "", False
    model_config = ModelConfig.from_dict(dict(config))
    return model_config.backbone.name, bool(model_config.backbone.has_gates)


def render_run_report(pipeline_root_or_workdir: Union[str, os.PathLike], out_path: str) -> str:
    """The report's HTML text (see `write_run_report`); the model card it links may be written."""
    from tfx_pipeline.report.gate_scalars import gate_usage_from_logdir
    from tfx_pipeline.report.run_facts import run_facts

    facts = run_facts(pipeline_root_or_workdir)
    page_dir = os.path.dirname(os.path.abspath(out_path))
    evaluation_uri = facts.output(b.EVALUATOR, "evaluation")
    blessing = facts.output(b.EVALUATOR, "blessing")
    blessed = os.path.exists(os.path.join(blessing, "BLESSED")) if blessing else None
    pusher = facts.step(b.PUSHER)
    pushed = pusher if pusher is not None and pusher.details.get("pushed_destination") else None
    model_run = facts.output(b.TRAINER, "model_run")
    backbone, has_gates = _backbone(facts.model_config())
    usage = gate_usage_from_logdir(model_run, backbone) if model_run and has_gates else None
    card, card_note = _model_card(facts.metadata_path, pushed, out_path)
    body = [
        sections.summary(facts, blessed, pushed.details["pushed_destination"] if pushed else None),
        sections.timeline(facts),
        sections.data_validation(facts),
        sections.metrics(evaluation_uri),
        sections.reliability(evaluation_uri, facts.output(b.TRAINER, "model")),
        sections.win_curve(facts),
        sections.gate_usage(usage, backbone, has_gates),
        sections.links(_href(card, page_dir) if card else None, card_note, model_run,
                       _href(model_run, page_dir) if model_run else None),
    ]
    nav = "".join(f'<a href="#{i}">{i.replace("-", " ")}</a>' for i in SECTION_IDS)
    title = f"{facts.pipeline_name} run {facts.run_id}"
    made = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{sections.esc(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{sections.esc(title)}</h1>\n"
            f'<p class="note">Written {made} from {sections.esc(facts.metadata_path)}.</p>\n<nav>{nav}</nav>\n'
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_run_report(pipeline_root_or_workdir: Union[str, os.PathLike], out_path: Union[str, os.PathLike]) -> str:
    """Writes the HTML report of the latest run of the local pipeline at `pipeline_root_or_workdir`
    (its pipeline root, workdir or SQLite MLMD file) to `out_path`; returns the path.

    Sections (ids in SECTION_IDS): run summary, component timeline (cached executions marked), data
    validation, TFMA metrics per task and slice with the baseline diff, reliability diagrams and the
    calibration before/after, win curve, gate usage, links to the model card and TensorBoard logdir.
    """
    out_path = os.fspath(out_path)
    if not out_path.lower().endswith((".html", ".htm")):
        raise ValueError(f"write_run_report: `out_path` must be an .html file, got {out_path!r}; e.g. report.html.")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    text = render_run_report(pipeline_root_or_workdir, out_path)
    tmp = f"{out_path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out_path)
    return out_path
