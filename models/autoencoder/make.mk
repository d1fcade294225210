# autoencoder: MLPerf Tiny Deep AutoEncoder on ToyCar. Default: import ad01.h5 (AUTOENCODER_EPOCHS>0
# trains it further, AUTOENCODER_INIT=scratch from random weights), calibrate and evaluate on the
# clips of AUTOENCODER_DATA_DIR: an extracted dev_data_ToyCar.zip, or normal/ + anomaly/ folders
# (default: the 3 real clips in $(ZOO_SHARED_DIR)/data/toycar_samples; unset = download the zip).
ifdef ZOO_SHARED_DIR
AUTOENCODER_DATA_DIR ?= $(ZOO_SHARED_DIR)/data/toycar_samples
endif
AUTOENCODER_TFDS_DIR    ?= $(BUILD)/autoencoder/tfds
AUTOENCODER_INIT        ?= pretrained
AUTOENCODER_EPOCHS      ?= 0
autoencoder_DATA_ARGS   ?= $(if $(AUTOENCODER_DATA_DIR),--data-dir $(AUTOENCODER_DATA_DIR)) --tfds-dir $(AUTOENCODER_TFDS_DIR)
autoencoder_TRAIN_ARGS  ?= --init $(AUTOENCODER_INIT) --epochs $(AUTOENCODER_EPOCHS) --tfds-dir $(AUTOENCODER_TFDS_DIR)
autoencoder_QUANT_ARGS  ?= --tfds-dir $(AUTOENCODER_TFDS_DIR)
autoencoder_EVAL_ARGS   ?= --tfds-dir $(AUTOENCODER_TFDS_DIR)
PATH_VARS += AUTOENCODER_DATA_DIR AUTOENCODER_TFDS_DIR
