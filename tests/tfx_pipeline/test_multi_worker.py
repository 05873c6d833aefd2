"""run_fn's training under TF_CONFIG, with real local processes on 127.0.0.1: two MultiWorkerMirrored
workers, and a ParameterServerStrategy cluster (chief, two workers, two parameter servers)."""
import dataclasses
import glob
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from mtl_keras import names
from serving import names as serving_names
from tfx_pipeline.distribution import CHIEF, SERVER, WORKER, replica_role, strategy_from_tf_config

# Every replica runs the Trainer's own entry (train_and_export) with its TF_CONFIG. The callback
# only acts where Keras trains (never on PS workers / servers): after the first epoch it records
# where the variables live and their values, at the end whether they moved.
REPLICA_SCRIPT = """
import json, sys, time
import mtl_keras
import numpy as np
import tensorflow as tf
from tfx_pipeline.trainer import train_and_export
args = json.loads(sys.argv[1])

class Record(tf.keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start, self.losses = time.time(), []
    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))
        if epoch == 0:
            self.devices = {v.name: v.device for v in self.model.trainable_variables}
            self.first = [v.numpy() for v in self.model.trainable_variables]
    def on_train_end(self, logs=None):
        moved = [float(np.abs(v.numpy() - f).max()) for v, f in zip(self.model.trainable_variables, self.first)]
        json.dump({"devices": self.devices, "moved": moved, "losses": self.losses,
                   "fit_seconds": time.time() - self.start}, open(args["record"], "w"))

logs = train_and_export(args["train_files"], args["transform_output"], args["out"], args["custom_config"],
                        train_steps=args["steps"], callbacks=[Record()])
json.dump(logs, open(args["logs"], "w"))
"""


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _trainer_args(workdir, epochs, **trainer_options):
    from mtl_keras.simulation import feature_spec
    from tfx_pipeline.presets import tiny_model_config, tiny_simulation
    from tfx_pipeline.trainer import trainer_custom_config
    from transform.config import TransformConfig

    root = workdir.pipeline_root
    config = dataclasses.replace(tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4)), epochs=epochs)
    return {
        "train_files": sorted(glob.glob(os.path.join(root, "Transform", "transformed_examples", "*", "Split-train_won", "*"))),
        "transform_output": sorted(glob.glob(os.path.join(root, "Transform", "transform_graph", "*")))[-1],
        "custom_config": trainer_custom_config(config, TransformConfig(), **trainer_options),
    }


def _start_replicas(cluster, args, tmp_path):
    """One process per task of `cluster`, each running REPLICA_SCRIPT: {(type, index): Popen}."""
    processes = {}
    for task_type, addresses in cluster.items():
        for index in range(len(addresses)):
            name = f"{task_type}-{index}"
            task_args = {**args, "out": str(tmp_path / f"model-{name}"), "logs": str(tmp_path / f"logs-{name}.json"),
                         "record": str(tmp_path / f"record-{name}.json")}
            tf_config = {"cluster": cluster, "task": {"type": task_type, "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "CUDA_VISIBLE_DEVICES": ""}
            processes[(task_type, index)] = subprocess.Popen(
                [sys.executable, "-c", REPLICA_SCRIPT, json.dumps(task_args)], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return processes


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def _serve_eval_impressions(model_dir, workdir):
    """The exported model's serving_default on the raw eval impressions: (outputs, clicks)."""
    import tensorflow as tf

    [impressions] = glob.glob(os.path.join(workdir.pipeline_root, "WinPropensity", "impressions", "*"))
    files = sorted(glob.glob(os.path.join(impressions, "Split-eval", "*")))
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    clicks = [tf.train.Example.FromString(r).features.feature[names.CLICK].int64_list.value[0] for r in records]
    serve = tf.saved_model.load(model_dir).signatures[serving_names.SERVING_DEFAULT]
    return {k: v.numpy().reshape(-1) for k, v in serve(examples=tf.constant(records)).items()}, np.array(clicks)


def test_two_workers_train_in_sync_and_only_the_chief_exports(tiny_runs, tmp_path):
    workdir, _ = tiny_runs
    # One short epoch of 4 steps: the point is the synchronous cluster, not the model.
    args = {**_trainer_args(workdir, epochs=1), "steps": 4}
    processes = _start_replicas({"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}, args, tmp_path)
    try:
        outputs = {key: p.communicate(timeout=400)[0] for key, p in processes.items()}
    finally:
        _stop(processes.values())
    for key, process in processes.items():
        assert process.returncode == 0, outputs[key][-3000:]
    logs = [json.load(open(tmp_path / f"logs-worker-{i}.json")) for i in range(2)]
    assert np.isfinite(logs[0]["loss"])
    # Synchronous all-reduce: both replicas end with the same (replica-averaged) loss.
    assert logs[0]["loss"] == pytest.approx(logs[1]["loss"], rel=1e-5)
    assert os.path.exists(tmp_path / "model-worker-0" / "saved_model.pb")
    assert not os.path.exists(tmp_path / "model-worker-1")


def test_parameter_server_cluster_trains_on_the_ps_and_the_chief_exports(tiny_runs, tmp_path):
    workdir, _ = tiny_runs
    # Two epochs of one pass over the training impressions each (steps counted by run_fn). The
    # tiny embedding table (under 1 KB) is split over the two parameter servers as a large one would be.
    args = {**_trainer_args(workdir, epochs=2, ps_min_shard_bytes=128), "steps": None}
    ports = _free_ports(5)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{p}" for p in ports[1:3]],
               "ps": [f"127.0.0.1:{p}" for p in ports[3:5]]}
    processes = _start_replicas(cluster, args, tmp_path)
    servers = [p for key, p in processes.items() if key[0] != "chief"]
    try:
        output = processes[("chief", 0)].communicate(timeout=400)[0]
        # Workers and the ps serve until the job ends; the chief's exit ends it (as on Vertex).
        still_serving = [p.poll() is None for p in servers]
    finally:
        _stop(processes.values())
    assert processes[("chief", 0)].returncode == 0, output[-3000:]
    assert all(still_serving)
    record = json.load(open(tmp_path / "record-chief-0.json"))
    print(f"\nPS cluster: fit {record['fit_seconds']:.1f} s, loss per epoch {record['losses']}")
    # Every model variable lives on the parameter servers; the workers only compute.
    devices = record["devices"]
    assert devices and all("/job:ps/" in d for d in devices.values()), devices
    # The embedding table is split, one shard per parameter server.
    shards = {name: d for name, d in devices.items() if "shared_embedding" in name}
    assert len(shards) == 2 and all("/part_" in name for name in shards), devices
    assert {d.split("/task:")[1][0] for d in shards.values()} == {"0", "1"}, shards
    # Training went on after the first epoch (the variables moved) ...
    assert max(record["moved"]) > 1e-4 and np.all(np.isfinite(record["moved"]))
    # ... and the exported model learnt CTR: after a single step it scores log loss ~0.50 and AUC
    # ~0.50 on the eval impressions, the single-process tiny run about 0.33 and 0.73.
    from sklearn.metrics import log_loss, roc_auc_score

    out, clicks = _serve_eval_impressions(str(tmp_path / "model-chief-0"), workdir)
    for key in names.PREDICTION_KEYS:
        assert np.all((out[key] > 0) & (out[key] < 1)), key
    np.testing.assert_allclose(out[names.P_CTCVR], out[names.P_CTR] * out[names.P_CVR], rtol=1e-5)
    ctr_log_loss, ctr_auc = log_loss(clicks, out[names.P_CTR]), roc_auc_score(clicks, out[names.P_CTR])
    print(f"exported model on {len(clicks)} eval impressions: CTR log loss {ctr_log_loss:.3f}, AUC {ctr_auc:.3f}")
    assert ctr_log_loss < 0.45 and ctr_auc > 0.62


def test_strategy_roles_from_tf_config():
    def env(cluster, task_type, index=0):
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})}

    single = env({"worker": ["127.0.0.1:1"]}, "worker")
    assert strategy_from_tf_config({})[1] == CHIEF
    assert strategy_from_tf_config(single)[1] == CHIEF
    mirrored = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert [replica_role(env(mirrored, "worker", i)) for i in (0, 1)] == [CHIEF, WORKER]
    ps_cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}
    assert [replica_role(env(ps_cluster, t)) for t in ("chief", "worker", "ps")] == [CHIEF, SERVER, SERVER]
    with pytest.raises(ValueError, match="needs a 'chief'"):
        replica_role(env({"worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}, "worker"))
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        strategy_from_tf_config({"TF_CONFIG": "{nope"})
    with pytest.raises(ValueError, match="'cluster' and 'task'"):
        strategy_from_tf_config({"TF_CONFIG": json.dumps({"cluster": {}})})
