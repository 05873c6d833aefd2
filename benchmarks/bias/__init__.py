"""The debiasing benchmark: naive vs ESMM vs ESCM² vs IPW-ESCM² against the simulator's ground truth.

TensorFlow is imported only when a benchmark runs (BiasBenchmark.run, BiasReport.to_dict).
"""
from benchmarks.bias.config import KUAIREC, BiasBenchmarkConfig
from mtl_keras.ground_truth import evaluate_spaces, task_metrics
from benchmarks.bias.methods import METHOD_NAMES, METHODS, BiasMethod
from benchmarks.bias.report import BiasReport
from benchmarks.bias.runner import BiasBenchmark

__all__ = ["BiasBenchmark", "BiasBenchmarkConfig", "BiasMethod", "BiasReport", "METHODS", "METHOD_NAMES",
           "evaluate_spaces", "task_metrics", "run_bias_benchmark"]


def run_bias_benchmark(config: BiasBenchmarkConfig, out_dir: str, log=print, command=None,
                       simulation_overrides=None) -> BiasReport:
    """Runs the benchmark and writes DIR/bias.json, DIR/bias.md and the reliability PNGs."""
    import time

    start = time.perf_counter()
    bench = BiasBenchmark(config, log=log, simulation_overrides=simulation_overrides)
    records = bench.run()
    if config.scenario == KUAIREC:
        import dataclasses

        from mtl_keras.simulation.kuairec import KuaiRecSelection

        simulation = dataclasses.asdict(KuaiRecSelection(world_seed=config.world_seed))
    else:
        from mtl_keras.simulation.scenarios import get_scenario

        simulation = bench.simulation_config(config.first_seed).to_dict()
        simulation["selection"] = get_scenario(config.scenario).selection
    simulation["seed"] = "varies: one per benchmark seed"
    simulation["world_seed"] = f"worlds {config.world_list}"
    report = BiasReport(config, records, time.perf_counter() - start, simulation=simulation, command=command)
    report.write(out_dir, bench.predictions, bench.test_frame)
    return report
