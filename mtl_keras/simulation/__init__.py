"""The funnel simulator: bid requests, second-price auctions, clicks and conversions, with ground truth."""
from mtl_keras.simulation.config import SimulationConfig
from mtl_keras.simulation.scenarios import SCENARIOS, Scenario, get_scenario
from mtl_keras.simulation.simulate import feature_spec, simulate_frame, simulate_frames
from mtl_keras.simulation.writer import FORMATS, read_dataset, write_dataset

__all__ = ["SimulationConfig", "SCENARIOS", "Scenario", "get_scenario", "simulate_frames", "simulate_frame", "feature_spec", "write_dataset", "read_dataset", "FORMATS"]
