"""The whole pipeline on a tiny simulated log, run twice in one workdir (the second run is cached)."""
import os

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import names
from tfx_pipeline import pipeline as p
from tfx_pipeline import run_summary
from serving import names as serving_names

ALL_COMPONENTS = [p.EXAMPLE_GEN, p.STATISTICS_GEN, p.SCHEMA_GEN, p.EXAMPLE_VALIDATOR, p.GATE, p.WIN_PROPENSITY,
                  p.TRANSFORM, p.TRAINER, p.BASELINE_RESOLVER, p.EVALUATOR, p.PUSHER]


def _runs(workdir, run_id):
    return {r.component: r for r in run_summary.component_runs(workdir.metadata_path, run_id)}


def test_first_run_ran_each_component_once_and_printed_seconds(tiny_runs):
    workdir, run_ids = tiny_runs
    runs = run_summary.component_runs(workdir.metadata_path, run_ids[0])
    print("\n" + run_summary.format_table(runs))  # seconds per component, shown with pytest -s
    assert sorted(r.component for r in runs) == sorted(ALL_COMPONENTS)
    assert all(r.state == "COMPLETE" for r in runs), runs


def test_second_run_reuses_the_cache(tiny_runs):
    workdir, run_ids = tiny_runs
    second = _runs(workdir, run_ids[1])
    upstream = [p.EXAMPLE_GEN, p.STATISTICS_GEN, p.SCHEMA_GEN, p.EXAMPLE_VALIDATOR, p.GATE, p.WIN_PROPENSITY,
                p.TRANSFORM, p.TRAINER]
    assert {c: second[c].state for c in upstream} == {c: "CACHED" for c in upstream}
    # The resolver now finds the first run's blessed model, so the Evaluator compares against it.
    assert second[p.EVALUATOR].state == "COMPLETE"


def test_model_was_blessed_and_pushed_to_a_versioned_directory(tiny_runs):
    workdir, _ = tiny_runs
    pushed = run_summary.pushed_model_path(workdir.metadata_path)
    assert pushed is not None and pushed.startswith(workdir.serving_dir)
    assert os.path.basename(pushed).isdigit()
    assert os.path.exists(os.path.join(pushed, "saved_model.pb"))
    blessing = run_summary.latest_artifact_uri(workdir.metadata_path, "ModelBlessing")
    assert run_summary.is_blessed(blessing)


def test_per_task_metrics_cover_impressions_and_clicks(tiny_runs):
    workdir, run_ids = tiny_runs
    # The first run's unweighted evaluation (the second one is weighted by 1/p_win, see test_eval_ipw).
    metrics = run_summary.task_metrics(
        run_summary.latest_artifact_uri(workdir.metadata_path, "ModelEvaluation", run_ids[0]))
    assert set(metrics) == set(names.PREDICTION_KEYS)
    impressions = metrics[names.P_CTR]["example_count"]
    assert metrics[names.P_CTCVR]["example_count"] == impressions
    # CVR is weighted by click: its weighted count is the number of clicked impressions.
    clicks = metrics[names.P_CVR]["weighted_example_count"]
    assert 0 < clicks < impressions
    assert metrics[names.P_CTR]["mean_label"] == pytest.approx(clicks / impressions, rel=1e-6)
    for output in names.PREDICTION_KEYS:
        assert 0 < metrics[output]["binary_crossentropy"] < 1.5
        assert 0 <= metrics[output]["auc"] <= 1
    assert metrics[names.P_CTR]["auc"] >= 0.5  # the blessing threshold held


def _example(row, spec):
    feature = {}
    for f in spec.categorical:
        feature[f.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row[f.name])]))
    for f in spec.numeric:
        feature[f.name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(row[f.name])]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_pushed_model_serves_probabilities_with_ctcvr_the_product(tiny_runs):
    from mtl_keras.simulation import feature_spec, simulate_frame
    from tfx_pipeline.presets import tiny_simulation

    workdir, _ = tiny_runs
    simulation = tiny_simulation(seed=99)
    frame = simulate_frame(simulation).head(64)
    spec = feature_spec(simulation)
    frame.loc[0, spec.categorical[0].name] = 10**9  # an id never seen: the OOV bucket
    serve = tf.saved_model.load(run_summary.pushed_model_path(workdir.metadata_path)).signatures[serving_names.SERVING_DEFAULT]
    out = {k: v.numpy().reshape(-1) for k, v in serve(examples=tf.constant([_example(r, spec) for _, r in frame.iterrows()])).items()}
    for key in names.PREDICTION_KEYS:
        assert out[key].shape == (64,)
        assert np.all((out[key] > 0) & (out[key] < 1)), key
    np.testing.assert_allclose(out[names.P_CTCVR], out[names.P_CTR] * out[names.P_CVR], rtol=1e-5)
    assert np.std(out[names.P_CTR]) > 0  # the features reach the model


def test_pushed_model_serves_calibrated_and_raw_outputs_through_the_tf1_loader(tiny_runs):
    import json

    from mtl_keras.calibration import MultiTaskCalibration
    from mtl_keras.simulation import feature_spec, simulate_frame
    from tfx_pipeline.presets import tiny_simulation

    workdir, _ = tiny_runs
    pushed = run_summary.pushed_model_path(workdir.metadata_path)
    calibration = MultiTaskCalibration.load(os.path.join(pushed, "assets.extra", "calibration.json"))
    assert sorted(calibration.calibrators) == [names.P_CTR, names.P_CVR]
    assert calibration.metadata["space"] == "impression" and calibration.metadata["kind"] == "platt"
    with open(os.path.join(pushed, "assets.extra", "calibration_report.json")) as f:
        report = json.load(f)
    for half in ("a", "b"):  # out of sample: each half scored by calibrators fitted on the other
        for output in (names.P_CTR, names.P_CVR, names.P_CTCVR):
            assert {"before", "after"} <= set(report["cross_fitted"][half][output])
            assert np.isfinite(report["cross_fitted"][half][output]["after"]["ece"])
    simulation = tiny_simulation(seed=98)
    frame = simulate_frame(simulation).head(32)
    spec = feature_spec(simulation)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], pushed)
        sig = meta.signature_def[serving_names.SERVING_DEFAULT]
        raw_keys = [k + "_uncalibrated" for k in names.PREDICTION_KEYS]
        assert set(sig.outputs) == set(names.PREDICTION_KEYS) | set(raw_keys)
        got = sess.run({k: v.name for k, v in sig.outputs.items()},
                       {sig.inputs[serving_names.SERVING_INPUT_EXAMPLES].name:
                        [_example(r, spec) for _, r in frame.iterrows()]})
    want = calibration.apply({k: got[k + "_uncalibrated"] for k in names.PREDICTION_KEYS})
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[names.P_CTCVR], got[names.P_CTR] * got[names.P_CVR], rtol=1e-5)
    np.testing.assert_allclose(got[names.P_CTCVR + "_uncalibrated"],
                               got[names.P_CTR + "_uncalibrated"] * got[names.P_CVR + "_uncalibrated"], rtol=1e-5)


def test_trainer_writes_tensorboard_scalars_to_the_model_run(tiny_runs):
    import glob

    workdir, _ = tiny_runs
    run_dir = run_summary.latest_artifact_uri(workdir.metadata_path, "ModelRun")
    events = glob.glob(os.path.join(run_dir, "train", "events.out.tfevents.*"))
    assert events, f"no TensorBoard events under {run_dir}"
    tags = set()
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    assert {"overall/loss", "ctr/loss", "ctcvr/loss", "task_weights/ctr"} <= tags, sorted(tags)


def test_pushed_model_serves_the_pipelines_win_model(tiny_runs):
    """WinPropensity's fitted model reaches the pushed SavedModel as `win_probability` (TF1 loader)."""
    import glob

    from mtl_keras.propensity import load_win_model
    from mtl_keras.simulation import simulate_frame
    from tfx_pipeline.presets import tiny_simulation

    workdir, _ = tiny_runs
    pushed = run_summary.pushed_model_path(workdir.metadata_path)
    [path] = glob.glob(os.path.join(run_summary.latest_artifact_uri(workdir.metadata_path, "mtl_ads.WinModel"), "*.json"))
    win_model = load_win_model(path)
    simulation = tiny_simulation(seed=97)
    frame = simulate_frame(simulation).head(16)
    bids = np.tile(np.array([[5.0, 20.0, 80.0]], np.float32), (len(frame), 1))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], pushed)
        sig = meta.signature_def[serving_names.SIGNATURE_WIN_PROBABILITY]
        feed = {sig.inputs[serving_names.SERVING_INPUT_BIDS].name: bids}
        for name, tensor in sig.inputs.items():  # the raw features the Transform graph reads
            if name != serving_names.SERVING_INPUT_BIDS:
                feed[tensor.name] = frame[name].to_numpy()
        got = sess.run(sig.outputs[names.P_WIN].name, feed)
    np.testing.assert_allclose(got, win_model.predict_p_win(frame, bids), rtol=1e-4, atol=1e-6)
    assert np.all(np.diff(got, axis=1) >= -1e-6)  # a higher bid never wins less often


def _records(directory):
    files = sorted(os.path.join(directory, f) for f in os.listdir(directory))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _won(record):
    return tf.train.Example.FromString(record).features.feature[names.WON].int64_list.value[0]


def test_lost_requests_are_filtered_once_and_counted_for_the_trainer(tiny_runs):
    """WinPropensity writes each split's won requests (train_won, eval_won) beside all of them and
    counts them; Transform transforms only those, so the Trainer reads no lost request."""
    import json

    workdir, _ = tiny_runs
    root = workdir.pipeline_root

    def newest(*parts):
        runs = [os.path.join(root, *parts, d) for d in os.listdir(os.path.join(root, *parts))]
        return max(runs, key=lambda d: int(os.path.basename(d)))

    scored = newest(p.WIN_PROPENSITY, "scored_examples")
    counts = {}
    for split in ("train", "eval"):
        requests, won = _records(os.path.join(scored, f"Split-{split}")), _records(os.path.join(scored, f"Split-{split}_won"))
        assert sorted(won) == sorted(r for r in requests if _won(r) == 1)  # record for record, each once
        assert 0 < len(won) < len(requests)
        counts[split] = {"requests": len(requests), "won": len(won)}
    with open(os.path.join(newest(p.WIN_PROPENSITY, "trainer_win_model"), "best_hyperparameters.txt")) as f:
        hyperparameters = json.load(f)
    assert hyperparameters["example_counts"] == counts
    assert hyperparameters["win_model"]["kind"] == "lognormal_aft"
    transformed = newest(p.TRANSFORM, "transformed_examples")
    assert sorted(os.listdir(transformed)) == ["Split-eval_won", "Split-train_won"]
    for split in ("train", "eval"):
        rows = _records(os.path.join(transformed, f"Split-{split}_won"))
        assert len(rows) == counts[split]["won"] and all(_won(r) == 1 for r in rows)


def test_calibration_buckets_read_runs_with_and_without_a_baseline(tiny_runs):
    """The first run's evaluation has one model; later ones are keyed candidate/baseline by TFMA."""
    workdir, run_ids = tiny_runs
    for run_id in run_ids[:2]:
        evaluation = run_summary.latest_artifact_uri(workdir.metadata_path, "ModelEvaluation", run_id)
        predicted, observed, weight = run_summary.calibration_buckets(evaluation, names.P_CTR)
        assert len(predicted) > 1 and np.all((predicted > 0) & (predicted < 1)) and np.all((observed >= 0) & (observed <= 1))
        metrics = run_summary.task_metrics(evaluation)[names.P_CTR]
        # Every evaluated impression falls in one bucket (weighted by 1/p_win in the eval_ipw run).
        assert weight.sum() == pytest.approx(metrics.get("weighted_example_count", metrics["example_count"]), rel=1e-6)
