"""Custom TFX components of the pipeline: the data-validation gate and win-propensity scoring."""
