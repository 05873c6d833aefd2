"""Signature and tensor names of the exported SavedModel, the serving contract (see DESIGN.md)."""

SERVING_DEFAULT = "serving_default"  # input: serialized tf.Example
SIGNATURE_PREDICT_RAW = "predict_raw"  # inputs: one [batch] tensor per raw feature
SIGNATURE_WIN_PROBABILITY = "win_probability"  # inputs: raw features + bids; output: p_win
SERVING_INPUT_EXAMPLES = "examples"
SERVING_INPUT_BIDS = "bids"
