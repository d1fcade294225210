# dscnn_kws: import MLPerf Tiny's kws_ref_model; calibrate and evaluate on a Speech Commands folder.
# TFDS speech_commands is the default source when DSCNN_KWS_DATA_DIR is empty (needs internet once).
DSCNN_KWS_DATA_DIR       ?= $(if $(ZOO_SHARED_DIR),$(ZOO_SHARED_DIR)/data/speech_commands_v0.02_test_subset)
# DSCNN_KWS_EPOCHS>0 fine-tunes on DSCNN_KWS_TRAIN_DATA_DIR (the full v0.02 archive), or TFDS if empty.
DSCNN_KWS_EPOCHS         ?= 0
DSCNN_KWS_TRAIN_DATA_DIR ?=
# Reference file scored beside ours; empty = the recipe's (models/dscnn_kws/recipe.py), none = skip.
DSCNN_KWS_REFERENCE      ?=
dscnn_kws_DATA_ARGS  ?= $(if $(DSCNN_KWS_DATA_DIR),--data-dir $(DSCNN_KWS_DATA_DIR))
dscnn_kws_TRAIN_ARGS ?= --init pretrained --epochs $(DSCNN_KWS_EPOCHS) \
	$(if $(DSCNN_KWS_TRAIN_DATA_DIR),--data-dir $(DSCNN_KWS_TRAIN_DATA_DIR))
dscnn_kws_QUANT_ARGS ?= $(dscnn_kws_DATA_ARGS)
dscnn_kws_EVAL_ARGS  ?= $(dscnn_kws_DATA_ARGS) $(if $(DSCNN_KWS_REFERENCE),--reference $(DSCNN_KWS_REFERENCE))
PATH_VARS += DSCNN_KWS_DATA_DIR DSCNN_KWS_TRAIN_DATA_DIR DSCNN_KWS_REFERENCE
