"""The data contract: task and output names, the columns of a bid-request log and the simulator's ground truth.

Names owned elsewhere: serving signatures in `serving.names`, TFMA weights in `tfx_pipeline.names`,
evaluation spaces in `mtl_keras.ground_truth`, backbones and objectives in their registries
(`mtl_keras.backbones`, `mtl_keras.objectives`), simulated dataset files in `mtl_keras.simulation.config`.
"""

# Tasks.
CTR = "ctr"
CVR = "cvr"
CTCVR = "ctcvr"
IMPUTATION = "imp"

# Model outputs, keyed by these names in every output dict and serving signature.
P_CTR = "p_ctr"
P_CVR = "p_cvr"
P_CTCVR = "p_ctcvr"
P_IMP = "p_imp"
PREDICTION_KEYS = (P_CTR, P_CVR, P_CTCVR)

# Columns of the bid-request log (see DESIGN.md).
BID_PRICE = "bid_price"
WON = "won"
MARKET_PRICE = "market_price"
CLICK = "click"
CONVERSION = "conversion"
P_WIN = "p_win"  # estimated win propensity, written by the propensity model
LABEL_COLUMNS = (CLICK, CONVERSION)
FUNNEL_COLUMNS = (BID_PRICE, WON, MARKET_PRICE, CLICK, CONVERSION, P_WIN)

# Ground truth written by the simulator only.
TRUE_P_WIN = "true_p_win"
TRUE_P_CTR = "true_p_ctr"
TRUE_P_CVR = "true_p_cvr"
POTENTIAL_CLICK = "potential_click"
POTENTIAL_CONVERSION = "potential_conversion"
# A latent user intent (not a feature): it moves prices, clicks and conversions in the
# `confounded` scenario and has no effect elsewhere; written so that selection can be checked.
TRUE_INTENT = "true_intent"
GROUND_TRUTH_COLUMNS = (TRUE_P_WIN, TRUE_P_CTR, TRUE_P_CVR, POTENTIAL_CLICK, POTENTIAL_CONVERSION, TRUE_INTENT)

# Internal model outputs the tasks read (logits keep the losses numerically stable).
CTR_LOGIT = "ctr_logit"
CVR_LOGIT = "cvr_logit"
IMP_LOGIT = "imp_logit"
LOG_P_CTCVR = "log_p_ctcvr"
