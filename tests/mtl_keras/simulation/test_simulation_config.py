import pytest

from mtl_keras.simulation import SimulationConfig


def test_round_trip_through_dict():
    config = SimulationConfig(num_requests=123, seed=7, vocabulary_sizes=(5, 6), num_categorical=2, bias_strength=0.5)
    assert SimulationConfig.from_dict(config.to_dict()) == config
    assert config.categorical_names == ["user_id", "ad_id"]
    assert config.vocabularies == [5, 6]


def test_extra_categorical_and_numeric_names():
    config = SimulationConfig(num_categorical=8, num_numeric=2)
    assert config.categorical_names[6:] == ["cat_6", "cat_7"]
    assert config.numeric_names == ["num_0", "num_1"]
    assert config.vocabularies[:6] == [10_000, 1_000, 100, 200, 4, 24]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"num_requests": 0}, "num_requests"),
        ({"base_ctr": 1.5}, "base_ctr"),
        ({"bias_strength": -1.0}, "bias_strength"),
        ({"num_categorical": 2, "vocabulary_sizes": (3,)}, "vocabulary_sizes"),
        ({"num_categorical": 0, "num_numeric": 0}, "num_categorical"),
        ({"market_price_sigma": 0.0}, "market_price_sigma"),
    ],
)
def test_bad_knobs_raise_value_error_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SimulationConfig(**kwargs)


def test_unknown_key_in_dict():
    with pytest.raises(ValueError, match="unknown keys"):
        SimulationConfig.from_dict({"num_request": 5})
