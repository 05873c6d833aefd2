"""write_run_report on the tiny pipeline's latest run: every section, inline PNGs only, and the page
as headless Chromium renders it (where `chromium` is on PATH)."""
import argparse
import html.parser
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from tfx_pipeline import pipeline as p
from tfx_pipeline import run_summary
from tfx_pipeline.presets import tiny_simulation
from tfx_pipeline.report import SECTION_IDS, figures, readers, write_run_report
from tfx_pipeline.report.cli import register_report
from tfx_pipeline.report.gate_scalars import gate_usage_from_logdir

# Writes the count of images that did not decode, and of all images, into the DOM once loaded.
_BROKEN_IMAGES_PROBE = """<script>window.addEventListener("load", function () {
  var broken = 0;
  for (const im of document.images) { if (!(im.complete && im.naturalWidth > 0)) broken++; }
  document.body.setAttribute("data-images", document.images.length);
  document.body.setAttribute("data-broken", broken);
});</script>"""


class _Page(html.parser.HTMLParser):
    """Section ids, <img> sources, links and any external resource of a page."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.links, self.external, self.body = [], [], {}, [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "a" and attrs.get("id"):
            self.links[attrs["id"]] = attrs.get("href", "")
        if tag == "body":
            self.body = attrs
        if tag in ("link", "iframe", "object") or (tag == "script" and "src" in attrs):
            self.external.append(tag)
        for value in attrs.values():
            if str(value).startswith(("http://", "https://", "//")):
                self.external.append(value)


def _parse(text):
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def report(tiny_runs, tmp_path_factory):
    workdir, run_ids = tiny_runs
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert write_run_report(workdir.pipeline_root, out) == str(out)
    return workdir, run_ids, out, out.read_text(encoding="utf-8")


def test_every_section_with_inline_pngs_only(report):
    workdir, run_ids, _, text = report
    page = _parse(text)
    assert page.sections == list(SECTION_IDS)
    assert page.external == []
    # timeline, three TFMA reliability diagrams, three before/after calibration plots, the win curve
    # (the tiny backbone has no gates)
    assert len(page.images) == 8
    for src in page.images:
        png = figures.decode_data_uri(src)
        assert png is not None, src[:60]
        size = figures.png_size(png)
        assert size["width"] > 100 and size["height"] > 100
    assert run_ids[-1] in text
    assert "Backbone shared_bottom has no gates" in text


def test_the_facts_of_the_latest_run(report):
    workdir, run_ids, _, text = report
    # The second run reused everything up to the Trainer, evaluated against the first model and pushed.
    for component in (p.EXAMPLE_GEN, p.STATISTICS_GEN, p.SCHEMA_GEN, p.EXAMPLE_VALIDATOR, p.GATE, p.WIN_PROPENSITY,
                      p.TRANSFORM, p.TRAINER):
        assert f"<td>{component}</td><td>CACHED</td><td>yes</td>" in text
    for component in (p.EVALUATOR, p.PUSHER):
        assert f"<td>{component}</td><td>COMPLETE</td><td></td>" in text
    evaluation = run_summary.latest_artifact_uri(workdir.metadata_path, "ModelEvaluation", run_ids[-1])
    for output, values in run_summary.task_metrics(evaluation).items():
        assert f"<td>overall</td><td>auc</td><td>{values['auc']:.4f}</td><td>" in text, output
    assert "Against the baseline" in text and "TFMA validation passed" in text
    rows = readers.split_rows(run_summary.latest_artifact_uri(workdir.metadata_path, "ExampleStatistics"))
    assert set(rows) == {"train", "eval"} and sum(rows.values()) == tiny_simulation().num_requests
    assert all(f"<td>{split}</td><td>{count}</td>" in text for split, count in rows.items())
    assert "Gate CACHED: the data passed (" in text and "schema problems" not in text
    assert "platt calibration in the impression space" in text
    assert "Win model lognormal_aft" in text


def test_links_reach_the_model_card_and_the_tensorboard_logdir(report):
    workdir, run_ids, out, text = report
    page = _parse(text)
    card = os.path.normpath(os.path.join(out.parent, page.links["model-card-link"]))
    with open(card, encoding="utf-8") as f:
        assert json.load(f)["model_details"]["version"]["name"] == os.path.basename(
            run_summary.pushed_model_path(workdir.metadata_path))
    logdir = os.path.normpath(os.path.join(out.parent, page.links["tensorboard-link"]))
    assert logdir == run_summary.latest_artifact_uri(workdir.metadata_path, "ModelRun", run_ids[-1])
    assert os.path.isdir(os.path.join(logdir, "train"))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium (`chromium`) is not on PATH")
def test_renders_in_headless_chromium_without_broken_images(report, tmp_path):
    _, _, out, text = report
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _BROKEN_IMAGES_PROBE + "\n</body>"), encoding="utf-8")
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
               probe.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _parse(result.stdout)
    assert dom.sections == list(SECTION_IDS)
    assert dom.body.get("data-images") == str(len(_parse(text).images))
    assert dom.body.get("data-broken") == "0"


def test_gate_usage_read_back_from_tensorboard_scalars(tmp_path):
    import tensorflow as tf

    from mtl_keras.diagnostics.gates import usage_scalars

    towers, experts = ["ctr", "cvr"], ["ctr_0", "cvr_0", "shared_0"]
    levels = []
    for index, gates in enumerate([towers + ["shared"], towers]):
        sees = {g: ([f"{g}_0", "shared_0"] if g in towers else experts) for g in gates}
        mean = {g: dict(zip(sees[g], np.linspace(0.2, 0.8, len(sees[g])) / len(sees[g]) * 2)) for g in gates}
        levels.append({"name": f"level_{index}", "gates": gates, "experts": experts, "mean": mean,
                       "entropy": {g: 0.5 + index for g in gates}})
    usage = {"backbone": "ple", "levels": levels}
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    with writer.as_default():
        for step, scale in ((0, 0.0), (1, 1.0)):  # the last epoch wins
            for tag, value in usage_scalars(usage).items():
                tf.summary.scalar(tag, value * scale, step=step)
    writer.close()
    read = gate_usage_from_logdir(str(tmp_path), backbone="ple")
    assert [level["name"] for level in read["levels"]] == ["level_0", "level_1"]
    for got, want in zip(read["levels"], levels):
        assert got["gates"] == want["gates"]
        for gate in want["gates"]:
            assert got["mean"][gate] == pytest.approx(want["mean"][gate])
            assert got["entropy"][gate] == pytest.approx(want["entropy"][gate])
    assert figures.png_size(figures.decode_data_uri(figures.gate_usage(read)))["width"] > 100
    assert gate_usage_from_logdir(str(tmp_path / "nothing")) is None


def test_cli_writes_the_report(tiny_runs, tmp_path, capsys):
    workdir, _ = tiny_runs
    parser = argparse.ArgumentParser()
    register_report(parser.add_subparsers())
    out = tmp_path / "cli" / "report.html"
    args = parser.parse_args(["report", "--pipeline-root", workdir.pipeline_root, "--out", str(out)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert _parse(out.read_text(encoding="utf-8")).sections == list(SECTION_IDS)


def test_a_run_stopped_by_the_gate_still_gets_every_section(tmp_path):
    import tensorflow as tf

    from mtl_keras.example_codec import encode_frame
    from mtl_keras.simulation import feature_spec, simulate_frame
    from tfx_pipeline.local_runner import run_local
    from tfx_pipeline.presets import Workdir, tiny_model_config

    simulation = tiny_simulation()
    workdir = Workdir(str(tmp_path / "bad"))
    frame = simulate_frame(simulation.__class__(**{**simulation.to_dict(), "num_requests": 1500}))
    os.makedirs(workdir.data_dir)
    with tf.io.TFRecordWriter(os.path.join(workdir.data_dir, "requests.tfrecord")) as writer:
        for record in encode_frame(frame.drop(columns=["ad_id"])):
            writer.write(record)
    pipeline = p.create_pipeline("bad", workdir.pipeline_root, workdir.data_dir, workdir.serving_dir,
                                 tiny_model_config(feature_spec(simulation, embedding_dim=4)),
                                 metadata_path=workdir.metadata_path, beam_pipeline_args=p.beam_args())
    with pytest.raises(Exception, match="failed validation"):
        run_local(pipeline, workdir.metadata_path)
    text = open(write_run_report(workdir.base, tmp_path / "bad.html"), encoding="utf-8").read()
    page = _parse(text)
    assert page.sections == list(SECTION_IDS) and len(page.images) == 1  # the timeline
    assert f"<td>{p.GATE}</td><td>FAILED</td>" in text and "Gate FAILED: the data failed validation" in text
    assert "column &#x27;ad_id&#x27; is missing from the data" in text
    assert "No Evaluator output in this run" in text and "this run pushed no model" in text


def test_bad_arguments_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="out_path"):
        write_run_report(tmp_path, tmp_path / "report.txt")
    with pytest.raises(ValueError, match="no ML Metadata store"):
        write_run_report(tmp_path, tmp_path / "report.html")
    with pytest.raises(ValueError, match="`steps` is empty"):
        figures.timeline([])
