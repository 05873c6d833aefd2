"""One run on the simulator's CSV output (CsvExampleGen) to the Pusher, with the WinPropensity Beam job
on `--direct_running_mode=multi_processing --direct_num_workers=2`: it blesses and pushes, worker
processes did the scoring, and the scores equal those of the same Beam job run in_memory."""
import contextlib
import glob
import json
import os
import threading

import numpy as np
import tensorflow as tf

from mtl_keras import names
from mtl_keras.simulation import feature_spec, write_dataset
from tfx_pipeline import pipeline as p
from tfx_pipeline.local_runner import run_local
from tfx_pipeline.presets import Workdir, tiny_model_config, tiny_simulation
from serving import names as serving_names

ALL_COMPONENTS = {p.EXAMPLE_GEN, p.STATISTICS_GEN, p.SCHEMA_GEN, p.EXAMPLE_VALIDATOR, p.GATE, p.WIN_PROPENSITY,
                  p.TRANSFORM, p.TRAINER, p.BASELINE_RESOLVER, p.EVALUATOR, p.PUSHER}


def _descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])  # the parent pid, after "(command)"
    return False


@contextlib.contextmanager
def _beam_sdk_workers():
    """The pids of this process's Beam SDK worker subprocesses (what multi_processing starts), seen while inside."""
    seen, stop, me = set(), threading.Event(), os.getpid()

    def watch():
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if b"sdk_worker_main" in f.read() and _descends_from(int(entry), me):
                            seen.add(int(entry))
                except (OSError, ValueError):
                    continue  # not a process, or it ended meanwhile
            stop.wait(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def _only(pattern):
    [path] = glob.glob(pattern)
    return path


def _examples_by_file(uri):
    """{"Split-x/file": [tf.train.Example, ...]} of an Examples artifact (parsed: map order is not bytes)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(uri, "Split-*", "*"))):
        records = tf.data.TFRecordDataset(path, compression_type="GZIP")
        out[os.path.relpath(path, uri)] = [tf.train.Example.FromString(r.numpy()) for r in records]
    return out


def _score_in_memory(root, config, out_dir):
    """The run's WinPropensity Beam job again, in_memory, on the same inputs and fitted model."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tfx.utils import io_utils

    from tfx_pipeline.components.scoring import ScoreShardFn, column_kinds, input_shards, score_shards
    from tfx_pipeline.components.win_propensity import WIN_MODEL_FILE, scoring_parse_spec

    schema = io_utils.SchemaReader().read(_only(os.path.join(root, p.SCHEMA_GEN, "schema", "*", "schema.pbtxt")))
    with open(_only(os.path.join(root, p.WIN_PROPENSITY, "win_model", "*", WIN_MODEL_FILE))) as f:
        win_model = json.load(f)
    kinds = column_kinds(scoring_parse_spec(schema, config.features))
    fn = ScoreShardFn(win_model, kinds, config.win_propensity_floor, config.win_weight_clip,
                      str(out_dir / "requests"), str(out_dir / "impressions"))
    examples = _only(os.path.join(root, p.EXAMPLE_GEN, "examples", "*"))
    with beam.Pipeline(options=PipelineOptions(p.beam_args("in_memory"))) as pipeline:
        score_shards(pipeline, input_shards(examples, ["train", "eval"]), fn)
    return {"scored_examples": str(out_dir / "requests"), "impressions": str(out_dir / "impressions")}


def test_csv_run_blesses_and_multi_processing_scores_like_in_memory(tmp_path):
    simulation = tiny_simulation()
    workdir = Workdir(str(tmp_path / "run"))
    write_dataset(simulation, workdir.data_dir, format="csv")
    config = tiny_model_config(feature_spec(simulation, embedding_dim=4))
    pipeline = p.create_pipeline(
        "csv", workdir.pipeline_root, workdir.data_dir, workdir.serving_dir, config, data_format="csv",
        train_split_buckets=3, metadata_path=workdir.metadata_path, beam_pipeline_args=p.beam_args(),
        component_beam_args={p.WIN_PROPENSITY: p.beam_args("multi_processing", 2)},
    )
    with _beam_sdk_workers() as workers:
        report = run_local(pipeline, workdir.metadata_path)
    print("\n" + report.format())
    assert {r.component for r in report.components} == ALL_COMPONENTS
    assert all(r.state == "COMPLETE" for r in report.components), report.components
    assert report.blessed and report.pushed_path and report.pushed_path.startswith(workdir.serving_dir)
    assert len(workers) >= 2, workers  # the two multi_processing workers of the WinPropensity job

    # The multi_processing outputs equal the in_memory job's, record for record, in every shard.
    expected = _score_in_memory(workdir.pipeline_root, config, tmp_path / "in_memory")
    wanted = {output: _examples_by_file(uri) for output, uri in expected.items()}
    for output, by_file in wanted.items():
        produced = _examples_by_file(_only(os.path.join(workdir.pipeline_root, p.WIN_PROPENSITY, output, "*")))
        assert sorted(produced) == sorted(by_file)
        for name, examples in by_file.items():
            assert produced[name] == examples, (output, name)
    requests = {name: examples for name, examples in wanted["scored_examples"].items() if "_won/" not in name}
    assert sum(map(len, requests.values())) == simulation.num_requests
    won = [e for name, examples in wanted["scored_examples"].items() if "_won/" in name for e in examples]
    assert len(won) == sum(map(len, wanted["impressions"].values()))  # the won split holds the impressions
    impressions = [e for examples in wanted["impressions"].values() for e in examples]
    p_win = np.array([e.features.feature[names.P_WIN].float_list.value[0] for e in impressions])
    assert 0 < p_win.min() and p_win.max() <= 1 and np.std(p_win) > 0.01

    # CSV columns reach serving as the same raw features: the pushed model scores eval impressions.
    serve = tf.saved_model.load(report.pushed_path).signatures[serving_names.SERVING_DEFAULT]
    eval_file = sorted(glob.glob(os.path.join(expected["impressions"], "Split-eval", "*")))[0]
    records = [r.numpy() for r in tf.data.TFRecordDataset(eval_file, compression_type="GZIP").take(64)]
    out = {k: v.numpy().reshape(-1) for k, v in serve(examples=tf.constant(records)).items()}
    assert all(np.all((out[k] > 0) & (out[k] < 1)) for k in names.PREDICTION_KEYS)
    assert report.metrics[names.P_CTR]["auc"] >= 0.5
