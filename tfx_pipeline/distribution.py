"""The tf.distribute strategy a Trainer replica uses, read from TF_CONFIG (set by Vertex AI)."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Tuple

import tensorflow as tf

# What a replica does: train and export ("chief"), train and throw its copy away ("worker" under
# MultiWorkerMirroredStrategy), or serve variables / steps until killed ("server" under PS).
CHIEF, WORKER, SERVER = "chief", "worker", "server"
# Under ParameterServerStrategy, variables above this size are split over the parameter servers.
PS_MIN_SHARD_BYTES = 1 << 20


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


def replica_role(environ: Optional[Dict[str, str]] = None) -> str:
    """This replica's role, from TF_CONFIG alone (no strategy is created, nothing connects)."""
    config = read_tf_config(environ)
    cluster = config.get("cluster", {})
    if sum(len(v) for v in cluster.values()) <= 1:
        return CHIEF
    task_type, task_id = config["task"].get("type"), int(config["task"].get("index", 0))
    if "ps" in cluster:
        if "chief" not in cluster:  # without a coordinator every replica would wait forever
            raise ValueError("TF_CONFIG: a cluster with 'ps' tasks needs a 'chief' task to coordinate; "
                             f"got {sorted(cluster)}.")
        return SERVER if task_type in ("worker", "ps") else CHIEF
    return CHIEF if task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster) \
        else WORKER


def strategy_from_tf_config(environ: Optional[Dict[str, str]] = None,
                            min_shard_bytes: int = PS_MIN_SHARD_BYTES) -> Tuple[tf.distribute.Strategy, str]:
    """(strategy, role). No TF_CONFIG or a single task: the default strategy, role chief.

    A cluster with `ps` tasks uses ParameterServerStrategy: the variables live on the parameter
    servers, workers and ps tasks only run a tf.distribute.Server, and the chief coordinates.
    Variables larger than `min_shard_bytes` (the embedding tables) are split in up to one shard per
    parameter server, so a table can outgrow one server's memory; smaller ones are placed whole,
    round-robin. Otherwise a cluster of several workers uses MultiWorkerMirroredStrategy, with
    worker 0 (or the chief) as the one that exports.
    """
    config = read_tf_config(environ)
    cluster = config.get("cluster", {})
    role = replica_role(environ)
    if sum(len(v) for v in cluster.values()) <= 1:
        return tf.distribute.get_strategy(), role
    if "ps" not in cluster:
        return tf.distribute.MultiWorkerMirroredStrategy(), role
    if role == SERVER:
        return None, SERVER
    if config["task"].get("type") != "chief":
        raise ValueError(f"TF_CONFIG task type {config['task'].get('type')!r}: a parameter-server cluster "
                         "has 'chief', 'worker' and 'ps' tasks only.")
    if not isinstance(min_shard_bytes, int) or min_shard_bytes < 1:
        raise ValueError(f"min_shard_bytes must be a positive int (bytes), received {min_shard_bytes!r}.")
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    partitioner = tf.distribute.experimental.partitioners.MinSizePartitioner(
        min_shard_bytes=min_shard_bytes, max_shards=len(cluster["ps"]))
    return tf.distribute.experimental.ParameterServerStrategy(resolver, variable_partitioner=partitioner), CHIEF


def run_server(environ: Optional[Dict[str, str]] = None) -> None:
    """Runs this replica's tf.distribute.Server until the job ends (parameter-server clusters)."""
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(
        resolver.cluster_spec(), job_name=resolver.task_type, task_index=resolver.task_id,
        protocol=resolver.rpc_layer or "grpc", start=True,
    )
    server.join()
