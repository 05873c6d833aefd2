"""The one place for task, output and column names."""

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

# Simulator: feature names it writes (the first `num_categorical` of these, then cat_<i>), numeric
# features num_<i>, and the files of a simulated dataset directory.
SIM_CATEGORICAL_FEATURES = ("user_id", "ad_id", "campaign_id", "site_id", "device", "hour")
SIM_EXTRA_CATEGORICAL_PREFIX = "cat_"
SIM_NUMERIC_PREFIX = "num_"
SIM_FILE_PREFIX = "requests"
FEATURE_SPEC_FILE = "feature_spec.json"
SUMMARY_FILE = "summary.json"

# Win propensity: model kinds accepted by make_win_model, and iPinYou DLF (yzbx) columns.
WIN_MODEL_KINDS = ("km", "km_segment", "cox", "weibull_aft", "lognormal_aft")
IPINYOU_FIELD_PREFIX = "field_"

# Backbones and objectives accepted by ModelConfig.
BACKBONES = ("shared_bottom", "mmoe", "ple")
OBJECTIVES = ("naive", "esmm", "escm2_ips", "escm2_dr")

# Serving: signature and tensor names of the exported SavedModel (see serving/).
SERVING_DEFAULT = "serving_default"  # input: serialized tf.Example
SIGNATURE_PREDICT_RAW = "predict_raw"  # inputs: one [batch] tensor per raw feature
SIGNATURE_WIN_PROBABILITY = "win_probability"  # inputs: raw features + bids; output: p_win
SERVING_INPUT_EXAMPLES = "examples"
SERVING_INPUT_BIDS = "bids"

# Internal model outputs the tasks read (logits keep the losses numerically stable).
CTR_LOGIT = "ctr_logit"
CVR_LOGIT = "cvr_logit"
IMP_LOGIT = "imp_logit"
LOG_P_CTCVR = "log_p_ctcvr"
EXAMPLE_WEIGHT = "example_weight"  # per-example 1/p_win weight computed by the model

# Task weighting methods.
WEIGHTINGS = ("fixed", "uncertainty")

# TFX pipeline: TFMA example weights written on the evaluation impressions by the WinPropensity
# component (never model features): clipped 1/p_win, and click * that weight for CVR on clicks.
EVAL_IPW = "eval_ipw"
EVAL_IPW_CLICKED = "eval_ipw_clicked"

# Debiasing benchmark (mtl_keras.benchmark): evaluation spaces, i.e. which test rows are scored:
# every request, the overlap population (requests with true p_win >= the propensity floor), won
# impressions, clicked impressions.
SPACE_REQUEST = "request"
SPACE_OVERLAP = "overlap"
SPACE_IMPRESSION = "impression"
SPACE_CLICK = "click"
BENCHMARK_SPACES = (SPACE_REQUEST, SPACE_OVERLAP, SPACE_IMPRESSION, SPACE_CLICK)
# Where an IPW method reads p_win: none (no win weighting), the survival model, the simulator's truth.
P_WIN_SOURCES = ("none", "survival", "oracle")
