"""The tf.distribute strategy a Trainer replica uses, read from TF_CONFIG (set by Vertex AI)."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Tuple

import mtl_keras  # noqa: F401
import tensorflow as tf

# What a replica does: train and export ("chief"), train and throw its copy away ("worker" under
# MultiWorkerMirroredStrategy), or serve variables / steps until killed ("server" under PS).
CHIEF, WORKER, SERVER = "chief", "worker", "server"


def read_tf_config(environ: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    text = (environ if environ is not None else os.environ).get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}); unset it or fix it.") from None
    if "cluster" not in config or "task" not in config:
        raise ValueError(f"TF_CONFIG needs 'cluster' and 'task' keys; got {sorted(config)}.")
    return config


def strategy_from_tf_config(environ: Optional[Dict[str, str]] = None) -> Tuple[tf.distribute.Strategy, str]:
    """(strategy, role). No TF_CONFIG or a single task: the default strategy, role chief.

    A cluster with `ps` tasks uses ParameterServerStrategy (large embedding tables are sharded over
    the parameter servers); workers and ps tasks then only run a tf.distribute.Server, and the chief
    coordinates. Otherwise a cluster of several workers uses MultiWorkerMirroredStrategy, with
    worker 0 (or the chief) as the one that exports.
    """
    config = read_tf_config(environ)
    cluster = config.get("cluster", {})
    if sum(len(v) for v in cluster.values()) <= 1:
        return tf.distribute.get_strategy(), CHIEF
    task_type, task_id = config["task"].get("type"), int(config["task"].get("index", 0))
    if "ps" in cluster:
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        if task_type in ("worker", "ps"):
            return None, SERVER
        if task_type != "chief":
            raise ValueError(f"TF_CONFIG task type {task_type!r}: a parameter-server cluster needs a 'chief'.")
        return tf.distribute.experimental.ParameterServerStrategy(resolver), CHIEF
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster)
    return strategy, CHIEF if is_chief else WORKER


def run_server(environ: Optional[Dict[str, str]] = None) -> None:
    """Runs this replica's tf.distribute.Server until the job ends (parameter-server clusters)."""
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(
        resolver.cluster_spec(), job_name=resolver.task_type, task_index=resolver.task_id,
        protocol=resolver.rpc_layer or "grpc", start=True,
    )
    server.join()
