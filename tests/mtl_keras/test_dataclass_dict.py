"""dataclass_dict.from_dict: JSON values of the wrong type fail naming the field and the expected type;
every valid config, including numpy values from a learned vocabulary, still builds."""
import dataclasses
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

from mtl_keras import dataclass_dict
from mtl_keras.config import ModelConfig
from mtl_keras.features import FeatureSpec
from mtl_keras.simulation.config import SimulationConfig
from transform.config import TransformConfig


@dataclasses.dataclass
class Example:
    name: str
    rate: float = 0.1
    steps: int = 1
    flag: bool = False
    sizes: List[int] = dataclasses.field(default_factory=list)
    weights: Optional[Dict[str, float]] = None
    shape: Optional[Tuple[int, ...]] = None


@pytest.mark.parametrize("data, message", [
    ({"name": "a", "rate": "0.5"}, "Example 'a': rate must be a number, got str '0.5'. Fix: write it without quotes"),
    ({"name": "a", "rate": True}, "rate must be a number, got bool True"),
    ({"name": "a", "steps": 2.0}, "steps must be an integer, got float 2.0"),
    ({"name": "a", "flag": "false"}, "flag must be true or false, got str 'false'. Fix: write it without quotes"),
    ({"name": "a", "sizes": "8"}, "sizes must be a list of integers, got str '8'"),
    ({"name": "a", "sizes": [8, "16"]}, "sizes must be a list of integers"),
    ({"name": "a", "weights": [1.0]}, "weights must be an object of numbers or null, got list [1.0]"),
    ({"name": "a", "weights": {"ctr": "1"}}, "weights must be an object of numbers or null"),
    ({"rate": 0.5}, "Example: required keys ['name'] are missing"),
    ({"name": 3}, "Example.name must be a string, got int 3"),
    ({"name": "a", "speed": 1}, "unknown keys ['speed']"),
    (["a"], "Example must be a JSON object"),
])
def test_wrong_types_name_the_field_and_the_type(data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclass_dict.from_dict(Example, data)


def test_valid_values_pass_including_numpy_and_json_lists():
    built = dataclass_dict.from_dict(Example, {"name": "a", "rate": np.float32(0.5), "steps": np.int64(3), "flag": True,
                                               "sizes": [1, 2], "weights": {"ctr": 1}, "shape": [2, 3]})
    assert built.rate == 0.5 and built.steps == 3 and built.shape == [2, 3]
    assert dataclass_dict.from_dict(Example, {"name": "a", "weights": None}).weights is None


def test_the_package_configs_round_trip():
    spec = FeatureSpec.from_dict({"categorical": [{"name": "c", "num_oov_buckets": 1,
                                                   "vocabulary": [3, 7]}],
                                  "numeric": [{"name": "x", "mean": 1, "std": 2.5}]})
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2}, task_weights={"ctr": 2},
                         learning_rate_schedule={"name": "cosine", "warmup_steps": 10})
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ModelConfig.from_json(config.to_json()) == config
    assert TransformConfig.from_dict({"numeric_overrides": {"x": "log"}, "top_k": 5}).top_k == 5
    assert SimulationConfig.from_dict({"vocabulary_sizes": [10, 20], "num_categorical": 2}).num_categorical == 2
    with pytest.raises(ValueError, match="SimulationConfig.vocabulary_sizes must be a list of integers or null"):
        SimulationConfig.from_dict({"vocabulary_sizes": "10,20"})


def test_describe():
    assert dataclass_dict.describe(Optional[Dict[str, float]]) == "an object of numbers or null"
    assert dataclass_dict.describe(List[int]) == "a list of integers"
