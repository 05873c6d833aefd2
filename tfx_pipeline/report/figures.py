"""The run report's figures as PNG data URIs (matplotlib Figures on their own Agg canvas: no display,
no pyplot state). Each function returns "data:image/png;base64,..."."""
from __future__ import annotations

import base64
import io
import os
import tempfile
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

DPI = 80
_PNG_PREFIX = "data:image/png;base64,"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_data_uri(png: bytes) -> str:
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("png_data_uri: `png` must be the bytes of a PNG file.")
    return _PNG_PREFIX + base64.b64encode(png).decode("ascii")


def figure_data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return png_data_uri(buffer.getvalue())


def timeline(steps: Sequence) -> str:
    """Gantt chart of a run's executions (LineageStep-like: component, start_time, end_time, cached)."""
    if not steps:
        raise ValueError("timeline: `steps` is empty; pass the executions of a run (RunFacts.steps).")
    origin = min(s.start_time for s in steps)
    figure = _figure(8.0, 0.32 * len(steps) + 1.2)
    ax = figure.add_subplot(1, 1, 1)
    for row, step in enumerate(steps):
        start = (step.start_time - origin).total_seconds()
        width = max((step.end_time - step.start_time).total_seconds(), 0.3)
        failed = step.state not in ("COMPLETE", "CACHED")
        color = "#bbbbbb" if step.cached else ("#d62728" if failed else "#1f77b4")
        ax.barh(row, width, left=start, color=color, hatch="//" if step.cached else None, edgecolor="#555555")
        label = "cached" if step.cached else (step.state.lower() if failed else f"{width:.1f} s")
        ax.text(start + width, row, f" {label}", va="center", fontsize=8)
    ax.set_yticks(range(len(steps)), [s.component for s in steps], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run started")
    ax.margins(x=0.15)
    return figure_data_uri(figure)


def reliability(output: str, curves: Mapping[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """Observed rate against mean prediction per TFMA calibration bucket, one curve per model."""
    if not curves:
        raise ValueError(f"reliability: no calibration buckets for {output!r}; pass {{model: (pred, observed, w)}}.")
    figure = _figure(3.6, 3.4)
    ax = figure.add_subplot(1, 1, 1)
    top = 0.0
    # The baseline first, hollow, so that the candidate stays visible where they coincide.
    styles = {"baseline": dict(marker="s", facecolors="none", edgecolors="#ff7f0e")}
    for model in sorted(curves, key=lambda m: m != "baseline"):
        pred, observed, weight = curves[model]
        style = styles.get(model, dict(marker="o", color="#1f77b4"))
        sizes = (12 + 60 * weight / max(float(weight.max()), 1e-12)) * (2.0 if model == "baseline" else 1.0)
        ax.plot(pred, observed, "-", lw=1, color=style.get("edgecolors", style.get("color")))
        ax.scatter(pred, observed, s=sizes, label=model, **style)
        top = max(top, float(np.max(pred, initial=0)), float(np.max(observed, initial=0)))
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="mean prediction", ylabel="observed rate", title=output)
    ax.legend(fontsize=8, loc="upper left")
    return figure_data_uri(figure)


def win_curve(curve: Mapping[str, np.ndarray]) -> str:
    """Observed win rate and mean p_win per bid bucket (readers.win_curve)."""
    figure = _figure(5.5, 3.4)
    ax = figure.add_subplot(1, 1, 1)
    ax.plot(curve["bid"], curve["observed"], "ko", label="observed win rate")
    ax.plot(curve["bid"], curve["predicted"], "-", color="#1f77b4", label="mean p_win (win model)")
    ax.set(xscale="log", xlabel="bid (bucket mean)", ylabel="win rate", ylim=(0, 1), title="win curve, eval split")
    ax.legend(fontsize=8, loc="upper left")
    return figure_data_uri(figure)


def gate_usage(usage: Mapping) -> str:
    """`mtl_keras.diagnostics.gates.plot_gate_usage` of `usage`, as a data URI."""
    from mtl_keras.diagnostics.gates import plot_gate_usage

    handle, path = tempfile.mkstemp(suffix=".png")
    os.close(handle)
    try:
        plot_gate_usage(usage, path)
        with open(path, "rb") as f:
            return png_data_uri(f.read())
    finally:
        os.remove(path)


def decode_data_uri(uri: str) -> Optional[bytes]:
    """The PNG bytes of a data URI this module wrote; None when it is not one."""
    if not isinstance(uri, str) or not uri.startswith(_PNG_PREFIX):
        return None
    try:
        png = base64.b64decode(uri[len(_PNG_PREFIX):], validate=True)
    except ValueError:
        return None
    return png if png.startswith(b"\x89PNG\r\n\x1a\n") else None


def png_size(png: bytes) -> Dict[str, int]:
    """{"width", "height"} from a PNG's IHDR chunk."""
    return {"width": int.from_bytes(png[16:20], "big"), "height": int.from_bytes(png[20:24], "big")}
