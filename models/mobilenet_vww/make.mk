# mobilenet_vww: MLPerf Tiny vww_96.h5 converted to a grayscale (96x96x1) input, PTQ-calibrated on the
# images of MOBILENET_VWW_DATA_DIR, scored there with VWW labels beside the MLPerf RGB int8 reference.
# Without a data dir the steps use TFDS coco/2017 (train for calibration, validation for scoring).
MOBILENET_VWW_DATA_DIR  ?= $(if $(ZOO_SHARED_DIR),$(ZOO_SHARED_DIR)/data/coco128_person)
MOBILENET_VWW_EPOCHS    ?= 0
# Reference files scored beside ours; empty = the recipe's (models/mobilenet_vww/recipe.py), none = skip.
MOBILENET_VWW_REFERENCE ?=
mobilenet_vww_DATA_FLAG   = $(if $(MOBILENET_VWW_DATA_DIR),--data-dir $(MOBILENET_VWW_DATA_DIR))
mobilenet_vww_DATA_ARGS  ?= $(mobilenet_vww_DATA_FLAG)
mobilenet_vww_TRAIN_ARGS ?= --init pretrained --epochs $(MOBILENET_VWW_EPOCHS)
mobilenet_vww_QUANT_ARGS ?= $(mobilenet_vww_DATA_FLAG)
mobilenet_vww_EVAL_ARGS  ?= $(mobilenet_vww_DATA_FLAG) $(if $(MOBILENET_VWW_REFERENCE),--reference $(MOBILENET_VWW_REFERENCE))
PATH_VARS += MOBILENET_VWW_DATA_DIR MOBILENET_VWW_REFERENCE
