"""DeepCTR (the public TF library) on the ads-bench-v1 rows, for `train_speed.py --baseline deepctr`.

DeepCTR is pinned in the lock (not in setup.py): `python benchmarks/train_speed.py --baseline deepctr`.

The models get the same shape as ours (embedding 16; 4 experts [128, 64], PLE 1 level with 2 shared
+ 2 per task; towers [64, 32]; linear gates; ESMM towers
[128, 64, 32] as DeepCTR's ESMM has no shared bottom), the same shuffled batches, Adam 1e-3, 1 epoch, and the
ESMM label pair (ctr on click, ctcvr on click*conversion) that DeepCTR's models take.
"""
from __future__ import annotations

import resource
import time

MODELS = {
    "mmoe": lambda cols, **kw: _models().MMOE(cols, num_experts=4, expert_dnn_hidden_units=(128, 64), **kw),
    "ple": lambda cols, **kw: _models().PLE(cols, shared_expert_num=2, specific_expert_num=2, num_levels=1,
                                            expert_dnn_hidden_units=(128, 64), **kw),
    "esmm": lambda cols, **kw: _models().ESMM(cols, **kw),
}


def _models():
    try:
        import deepctr.models as models
    except ImportError as error:
        raise SystemExit(
            "--baseline deepctr needs DeepCTR 0.9.4 (pinned in requirements/lock.txt): run `make install` or "
            "`pip install deepctr==0.9.4`.") from error
    return models


def run(name, spec, train_arrays, test_arrays, test, batch_size, step_timer, warmup_steps):
    """Trains DeepCTR's `name` model for one epoch; returns the same fields as our runs."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras
    from deepctr.feature_column import DenseFeat, SparseFeat

    from mtl_keras import names
    from mtl_keras.data import make_dataset
    from mtl_keras.metrics import roc_auc

    columns = [SparseFeat(f.name, vocabulary_size=f.num_rows, embedding_dim=16) for f in spec.categorical]
    columns += [DenseFeat(f.name, 1) for f in spec.numeric]
    feature_names = [c.name for c in columns]

    def inputs_and_labels(batch):
        features = {k: batch[k][:, tf.newaxis] for k in feature_names}
        click = batch[names.CLICK]
        return features, (click, click * batch[names.CONVERSION])

    timer = step_timer()
    start = time.perf_counter()
    # DeepCTR's ESMM has no shared bottom: its towers get our bottom's layers in front.
    towers = (128, 64, 32) if name == "esmm" else (64, 32)
    model = MODELS[name](columns, tower_dnn_hidden_units=towers, task_names=("ctr", "ctcvr"))
    model.compile(keras.optimizers.Adam(1e-3), loss=["binary_crossentropy", "binary_crossentropy"])
    dataset = make_dataset(train_arrays, batch_size, shuffle=True, seed=0).map(inputs_and_labels)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    wall = time.perf_counter() - start
    n = len(next(iter(train_arrays.values())))
    test_inputs = make_dataset(test_arrays, 16384).map(lambda b: {k: b[k][:, tf.newaxis] for k in feature_names})
    p_ctr, p_ctcvr = (np.asarray(p).reshape(-1) for p in model.predict(test_inputs, verbose=0))
    click, conv = test[names.CLICK].to_numpy(), test[names.CONVERSION].to_numpy()
    return {
        "model": name, "library": "deepctr 0.9.4", "steps": timer.steps[-1] + 1,
        "examples_per_sec": timer.steady(n, batch_size, warmup_steps), "wall_s": wall,
        "auc_ctr": roc_auc(click, p_ctr), "auc_ctcvr": roc_auc(click * conv, p_ctcvr),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
