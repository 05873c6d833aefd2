"""run_fn's training under TF_CONFIG: two local worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy)."""
import dataclasses
import glob
import json
import os
import socket
import subprocess
import sys

import mtl_keras  # noqa: F401
import numpy as np
import pytest

from tfx_pipeline.distribution import CHIEF, WORKER, strategy_from_tf_config

WORKER_SCRIPT = """
import json, sys
import mtl_keras
from tfx_pipeline.trainer import train_and_export
args = json.loads(sys.argv[1])
logs = train_and_export(args["train_files"], args["transform_output"], args["out"], args["custom_config"], train_steps=4)
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


def test_two_workers_train_in_sync_and_only_the_chief_exports(tiny_runs, tmp_path):
    from mtl_keras.simulation import feature_spec
    from tfx_pipeline.presets import tiny_model_config, tiny_simulation
    from tfx_pipeline.trainer import trainer_custom_config
    from transform.config import TransformConfig

    workdir, _ = tiny_runs
    root = workdir.pipeline_root
    # One short epoch: the point is the synchronous cluster, not the model.
    config = dataclasses.replace(tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4)), epochs=1)
    args = {
        "train_files": sorted(glob.glob(os.path.join(root, "Transform", "transformed_examples", "*", "Split-train", "*"))),
        "transform_output": sorted(glob.glob(os.path.join(root, "Transform", "transform_graph", "*")))[-1],
        "custom_config": trainer_custom_config(config, TransformConfig()),
    }
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    processes = []
    for index in range(2):
        task_args = {**args, "out": str(tmp_path / f"model-{index}"), "logs": str(tmp_path / f"logs-{index}.json")}
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "CUDA_VISIBLE_DEVICES": ""}
        processes.append(subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, json.dumps(task_args)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=400)[0] for p in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    logs = [json.load(open(tmp_path / f"logs-{i}.json")) for i in range(2)]
    assert np.isfinite(logs[0]["loss"])
    # Synchronous all-reduce: both replicas end with the same (replica-averaged) loss.
    assert logs[0]["loss"] == pytest.approx(logs[1]["loss"], rel=1e-5)
    assert os.path.exists(tmp_path / "model-0" / "saved_model.pb")
    assert not os.path.exists(tmp_path / "model-1")


def test_strategy_roles_from_tf_config():
    single = {"TF_CONFIG": json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}})}
    assert strategy_from_tf_config({})[1] == CHIEF
    assert strategy_from_tf_config(single)[1] == CHIEF
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        strategy_from_tf_config({"TF_CONFIG": "{nope"})
    with pytest.raises(ValueError, match="'cluster' and 'task'"):
        strategy_from_tf_config({"TF_CONFIG": json.dumps({"cluster": {}})})
    assert WORKER != CHIEF
