"""Diagnostics of trained multi-task models: gate usage (numbers and heatmap) and TensorBoard logging."""
from mtl_keras.diagnostics.gates import gate_usage, plot_gate_usage, usage_scalars
from mtl_keras.diagnostics.tensorboard import MultiTaskTensorBoard

__all__ = ["MultiTaskTensorBoard", "gate_usage", "plot_gate_usage", "usage_scalars"]
