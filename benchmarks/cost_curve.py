"""The pipeline's cost curve: per component, a fixed cost plus a cost per request, fitted over runs
of several sizes, in wall seconds and in CPU seconds (core-seconds), to predict larger runs.

`CpuClock` samples this process's CPU time (and its children's: Beam multi_processing workers)
while the local runner works, so each component's core-seconds come from its MLMD start and end.
"""
from __future__ import annotations

import resource
import threading
import time
from typing import Dict, List, Sequence

import numpy as np


class CpuClock:
    """Samples (wall time, CPU seconds of this process and its children) every `interval` seconds."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.samples = interval, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.time(), self._cpu()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), self._cpu()))

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds spent from `start` to `end` (epoch seconds), interpolated between samples."""
        walls, cpus = np.array([s[0] for s in self.samples]), np.array([s[1] for s in self.samples])
        return float(np.interp(end, walls, cpus) - np.interp(start, walls, cpus))


def component_costs(components: Sequence, clock: CpuClock) -> Dict[str, Dict[str, float]]:
    """{component: {"wall_s", "cpu_s"}} for the executed components of one run (run_summary.ComponentRun)."""
    return {c.component: {"wall_s": c.seconds, "cpu_s": clock.cpu_between(c.started_at, c.started_at + c.seconds)}
            for c in components if c.state == "COMPLETE" and np.isfinite(c.started_at)}


def fit(runs: List[Dict]) -> Dict[str, Dict[str, float]]:
    """Per component (and "total"), least squares of cost = fixed + per_request * requests over runs
    [{"requests": n, "costs": component_costs(...)}, ...] of at least two sizes."""
    sizes = sorted({r["requests"] for r in runs})
    if len(sizes) < 2:
        return {}
    names = sorted(set.intersection(*(set(r["costs"]) for r in runs)))
    out = {}
    for name in names + ["total"]:
        n = np.array([r["requests"] for r in runs], float)
        curve = {}
        for kind in ("wall_s", "cpu_s"):
            y = np.array([sum(c[kind] for c in r["costs"].values()) if name == "total" else r["costs"][name][kind]
                          for r in runs])
            slope, intercept = np.polyfit(n, y, 1)
            curve[f"fixed_{kind}"] = float(intercept)
            curve[f"{kind}_per_100k_requests"] = float(slope * 1e5)
        per_core = curve["cpu_s_per_100k_requests"]
        curve["requests_per_core_second"] = 1e5 / per_core if per_core > 0 else float("inf")
        out[name] = curve
    return out


def predict(curve: Dict[str, Dict[str, float]], requests: float, cores: float) -> Dict[str, float]:
    """Wall seconds per component for `requests` on `cores` cores that scale perfectly: the fixed
    cost once, the per-request CPU spread over the cores (a lower bound for a distributed runner)."""
    return {name: c["fixed_wall_s"] + c["cpu_s_per_100k_requests"] * requests / 1e5 / cores
            for name, c in curve.items() if name != "total"}
