"""benchmarks/cost_curve.py: per-component fixed + per-request costs from runs of several sizes,
CPU seconds attributed to a component by its start and end, and the prediction for larger runs."""
import math
import time

import pytest

from benchmarks import cost_curve
from tfx_pipeline.run_summary import ComponentRun


def _runs():
    # ExampleGen: 5 s + 10 s per 100k requests wall, CPU 4 s + 12 s per 100k; Trainer: 20 s + 2 s per 100k.
    runs = []
    for n in (100_000, 200_000, 1_000_000):
        runs.append({"requests": n, "costs": {
            "ExampleGen": {"wall_s": 5 + 10 * n / 1e5, "cpu_s": 4 + 12 * n / 1e5},
            "Trainer": {"wall_s": 20 + 2 * n / 1e5, "cpu_s": 30 + 4 * n / 1e5},
        }})
    return runs


def test_fit_recovers_fixed_and_per_request_costs():
    curve = cost_curve.fit(_runs())
    gen, total = curve["ExampleGen"], curve["total"]
    assert gen["fixed_wall_s"] == pytest.approx(5) and gen["wall_s_per_100k_requests"] == pytest.approx(10)
    assert gen["fixed_cpu_s"] == pytest.approx(4) and gen["cpu_s_per_100k_requests"] == pytest.approx(12)
    assert gen["requests_per_core_second"] == pytest.approx(1e5 / 12)
    assert total["wall_s_per_100k_requests"] == pytest.approx(12) and total["fixed_cpu_s"] == pytest.approx(34)


def test_one_size_gives_no_curve():
    assert cost_curve.fit(_runs()[:1]) == {}


def test_prediction_spreads_the_per_request_cpu_over_the_cores():
    curve = cost_curve.fit(_runs())
    predicted = cost_curve.predict(curve, requests=1e8, cores=100)
    # fixed 5 s + 12 core-s per 100k x 1000 (100k blocks) / 100 cores = 125 s
    assert predicted["ExampleGen"] == pytest.approx(5 + 12 * 1000 / 100)
    assert "total" not in predicted


def test_cpu_clock_attributes_busy_time_to_the_component_that_ran():
    with cost_curve.CpuClock(interval=0.02) as clock:
        start = time.time()
        while time.time() - start < 0.4:  # busy: CPU ~ wall
            pass
        busy_end = time.time()
        time.sleep(0.4)  # idle: no CPU
        idle_end = time.time()
    runs = [ComponentRun("Busy", "COMPLETE", busy_end - start, start),
            ComponentRun("Idle", "COMPLETE", idle_end - busy_end, busy_end),
            ComponentRun("Cached", "CACHED", 0.0, start)]
    costs = cost_curve.component_costs(runs, clock)
    assert set(costs) == {"Busy", "Idle"}
    assert 0.15 < costs["Busy"]["cpu_s"] <= 0.5  # at most its wall time (less if the machine is shared)
    assert costs["Idle"]["cpu_s"] < 0.1
    assert math.isclose(costs["Busy"]["wall_s"], busy_end - start)
