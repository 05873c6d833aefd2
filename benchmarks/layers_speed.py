"""Micro-benchmark of the layers on the ads-bench-v1 shape: training steps per second, written as JSON.

Variants run round-robin in blocks of 5 steps; reports each one's best block (`ms_per_step`,
`examples_per_sec`) and the mean over its blocks.

Measures one train step (forward, backward, optimizer) of SharedEmbedding -> backbone -> towers
[64, 32] -> 2 logits on random data: batch 2048, 16 categorical features of dim 16 (the issue's
vocabulary sizes), 4 numeric features; MMoE 4 experts [128, 64]; PLE 2 shared + 2 per task.
Variants isolate what costs what:
  - `backbone`: dense input [batch, 260] -> backbone -> towers (no embedding), Adam;
  - `full_sgd`: with SharedEmbedding, plain SGD (sparse row updates);
  - `full_adam`: with SharedEmbedding and tf_keras Adam, which updates every row of the moments.
A `loop` variant of MMoE (one Dense stack per expert) shows what the batched experts save.

    python benchmarks/layers_speed.py --out layers_speed.json [--rounds 8]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import mtl_keras  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.layers import MMoE, PLE, SharedEmbedding, Tower

VOCABULARY = [100000, 50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 3, 2]
BATCH = 2048
TASKS = 2


class _LoopMMoE(keras.layers.Layer):
    """Reference only: MMoE as a Python loop of Dense experts."""

    def __init__(self, num_experts, expert_units, num_tasks):
        super().__init__()
        self.experts = [[keras.layers.Dense(u, "relu") for u in expert_units] for _ in range(num_experts)]
        self.gates = [keras.layers.Dense(num_experts, "softmax") for _ in range(num_tasks)]

    def call(self, x):
        outs = []
        for layers in self.experts:
            h = x
            for layer in layers:
                h = layer(h)
            outs.append(h)
        stacked = tf.stack(outs, axis=1)
        return [tf.einsum("be,beu->bu", gate(x), stacked) for gate in self.gates]


def _spec() -> FeatureSpec:
    return FeatureSpec(
        categorical=[CategoricalFeature(f"c{i}", vocabulary_size=v, embedding_dim=16) for i, v in enumerate(VOCABULARY)],
        numeric=[NumericFeature(f"d{i}") for i in range(4)],
    )


def _backbone(name: str):
    if name == "mmoe":
        return MMoE(num_experts=4, expert_units=[128, 64], num_tasks=TASKS)
    if name == "mmoe_loop":
        return _LoopMMoE(4, [128, 64], TASKS)
    levels = int(name[-1])
    return PLE(num_levels=levels, num_shared_experts=2, num_task_experts=2, expert_units=[128, 64], num_tasks=TASKS)


def _batch(rng, spec):
    features = {f.name: tf.constant(np.minimum(rng.zipf(1.1, BATCH) - 1, f.num_rows - 1)) for f in spec.categorical}
    features.update({f.name: tf.constant(rng.normal(size=BATCH).astype(np.float32)) for f in spec.numeric})
    labels = tf.constant((rng.random((BATCH, TASKS)) < 0.05).astype(np.float32))
    return features, labels


def make_step(backbone_name: str, variant: str):
    """A compiled train step and its inputs for one variant."""
    keras.utils.set_random_seed(0)
    spec = _spec()
    embedding = SharedEmbedding(spec.to_dict()) if variant != "backbone" else None
    backbone = _backbone(backbone_name)
    towers = [Tower([64, 32]) for _ in range(TASKS)]
    optimizer = keras.optimizers.SGD(0.01) if variant == "full_sgd" else keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(0)
    features, labels = _batch(rng, spec)
    inputs = features if embedding else tf.constant(rng.normal(size=(BATCH, embedding_width(spec))).astype(np.float32))

    @tf.function
    def step(inputs, labels):
        with tf.GradientTape() as tape:
            x = embedding(inputs) if embedding else inputs
            logits = tf.concat([tower(h) for tower, h in zip(towers, backbone(x))], axis=1)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
        variables = (embedding.trainable_variables if embedding else []) + backbone.trainable_variables
        variables += [v for tower in towers for v in tower.trainable_variables]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    for _ in range(5):  # trace and warm up
        step(inputs, labels)
    return lambda: step(inputs, labels)


def measure(variants, rounds: int) -> list:
    """Round-robin blocks of 5 steps over all variants, so a busy spell hits them alike; best block wins."""
    steps = {v: make_step(*v) for v in variants}
    blocks = {v: [] for v in variants}
    for _ in range(rounds):
        for v, step in steps.items():
            start = time.perf_counter()
            for _ in range(5):
                loss = step()
            loss.numpy()
            blocks[v].append((time.perf_counter() - start) / 5)
    return [{"backbone": b, "variant": variant, "ms_per_step": round(min(t) * 1e3, 2),
             "examples_per_sec": round(BATCH / min(t)), "mean_ms_per_step": round(np.mean(t) * 1e3, 2)}
            for (b, variant), t in blocks.items()]


def embedding_width(spec: FeatureSpec) -> int:
    return sum(f.embedding_dim for f in spec.categorical) + len(spec.numeric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--rounds", type=int, default=8, help="timed blocks of 5 steps per variant")
    args = parser.parse_args()
    variants = [("mmoe", "backbone"), ("mmoe_loop", "backbone"), ("ple1", "backbone"), ("ple2", "backbone"),
                ("mmoe", "full_sgd"), ("mmoe", "full_adam"), ("ple1", "full_sgd")]
    runs = measure(variants, args.rounds)
    for run in runs:
        print(json.dumps(run))
    result = {"batch_size": BATCH, "cpus": os.cpu_count(), "tensorflow": tf.__version__,
              "machine": platform.machine(), "load_avg_1m": os.getloadavg()[0], "runs": runs}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
