"""Ready-made runs of the pipeline on simulated data: the demo (~200k requests) and a tiny one for
tests and notebooks. `run_simulated` simulates once per directory, then runs the pipeline there."""
from __future__ import annotations

import dataclasses
import json
import os
import random
from typing import Any, Dict, Optional

from mtl_keras.config import ModelConfig
from mtl_keras.features import FeatureSpec
from mtl_keras.simulation import SimulationConfig


@dataclasses.dataclass(frozen=True)
class Workdir:
    """Where a run keeps its data, pipeline root, ML Metadata and pushed models."""

    base: str

    @property
    def data_dir(self) -> str:
        return os.path.join(self.base, "data")

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.base, "pipeline_root")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.base, "serving")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.base, "metadata.sqlite")


# The demo's pushed model serves isotonic calibration fitted on the eval split (impression space).
DEMO_CALIBRATION = {"kind": "isotonic", "space": "impression"}


def tiny_simulation(seed: int = 7) -> SimulationConfig:
    # Small vocabularies so that a few thousand rows still see every id several times.
    # The ground truth reaches a CTR AUC of about 0.73 on its impressions, enough to learn in 3 epochs.
    return SimulationConfig(num_requests=8000, seed=seed, num_categorical=3, num_numeric=4,
                            vocabulary_sizes=(20, 10, 4))


def tiny_model_config(features: FeatureSpec) -> ModelConfig:
    return ModelConfig(features=features, backbone={"name": "shared_bottom", "bottom_units": [32]}, objective="esmm",
                       tower_units=[16], learning_rate=0.01, batch_size=128, epochs=3, win_weighting=True,
                       train_metrics=False)


def demo_simulation(num_requests: int = 200_000, seed: int = 0) -> SimulationConfig:
    return SimulationConfig(num_requests=num_requests, seed=seed)


def demo_model_config(features: FeatureSpec) -> ModelConfig:
    return ModelConfig(features=features, backbone={"name": "mmoe", "num_experts": 4, "expert_units": [64, 32]},
                       objective="escm2_ips", tower_units=[32], learning_rate=2e-3, batch_size=1024, epochs=2,
                       win_weighting=True, train_metrics=False)


def simulate_once(workdir: Workdir, simulation: SimulationConfig) -> FeatureSpec:
    """Writes the simulated TFRecords unless the same simulation is there already; returns its FeatureSpec."""
    from mtl_keras.simulation import feature_spec, write_dataset

    stamp = os.path.join(workdir.data_dir, "simulation.json")
    wanted = json.dumps(simulation.to_dict(), sort_keys=True)
    if not (os.path.exists(stamp) and open(stamp).read() == wanted):
        write_dataset(simulation, workdir.data_dir, format="tfrecord", overwrite=True)
        with open(stamp, "w") as f:
            f.write(wanted)
    return feature_spec(simulation, embedding_dim=8)


def run_simulated(workdir: Workdir, simulation: SimulationConfig, model_config: Optional[ModelConfig] = None,
                  pipeline_name: str = "mtl-ads", beam_mode: str = "in_memory", beam_workers: int = 1,
                  **pipeline_args: Any):
    """Simulates (once) and runs the pipeline in `workdir`; returns the local_runner.RunReport."""
    from tfx_pipeline.local_runner import run_local
    from tfx_pipeline.pipeline import beam_args, create_pipeline

    features = simulate_once(workdir, simulation)
    model_config = model_config or demo_model_config(features)
    pipeline_args.setdefault("calibration", DEMO_CALIBRATION)
    pipeline = create_pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=workdir.pipeline_root,
        data_root=workdir.data_dir,
        serving_dir=workdir.serving_dir,
        model_config=model_config,
        metadata_path=workdir.metadata_path,
        beam_pipeline_args=beam_args(beam_mode, beam_workers),
        **pipeline_args,
    )
    # Beam draws shard keys from Python's `random` (ExampleGen's Reshuffle, the fan-out of TFT's
    # combiners, whose float merges then differ in the last bit): seeded, a DirectRunner in_memory
    # run repeats them, and the same seed gives the same model and metrics.
    random.seed(simulation.seed)
    return run_local(pipeline, workdir.metadata_path)


def tiny_run(base: str, **pipeline_args: Any):
    """The tiny pipeline run of the tests and the notebook (about 3 minutes on 2 cores, cached after)."""
    from mtl_keras.simulation import feature_spec

    simulation = tiny_simulation()
    features = feature_spec(simulation, embedding_dim=4)
    pipeline_args.setdefault("train_split_buckets", 3)
    # About 1,000 eval impressions and a few dozen conversions: Platt's two parameters, low minimums.
    pipeline_args.setdefault("calibration", {"kind": "platt", "min_rows": 20, "min_positives": 3})
    return run_simulated(Workdir(base), simulation, tiny_model_config(features), pipeline_name="tiny",
                         **pipeline_args)
