# face_detection: import MediaPipe's short-range face detector into Keras (no training), calibrate on
# photos, evaluate int8 vs MediaPipe's float detector and the Efinix file. Photos: FACE_DETECTION_DATA_DIR
# (a folder searched recursively, faces and none; ../shared/data when ZOO_SHARED_DIR is set).
FACE_DETECTION_DATA_DIR ?= $(if $(ZOO_SHARED_DIR),$(ZOO_SHARED_DIR)/data)
# the widening residual shortcuts: concat (CONCATENATION of two halves, no PAD) or pad (MediaPipe's PAD + ADD)
FACE_DETECTION_SHORTCUTS ?= concat
face_detection_source = $(if $(FACE_DETECTION_DATA_DIR),--data-dir $(FACE_DETECTION_DATA_DIR))
face_detection_DATA_ARGS  ?= $(face_detection_source)
face_detection_TRAIN_ARGS ?= --shortcuts $(FACE_DETECTION_SHORTCUTS)
face_detection_QUANT_ARGS ?= $(face_detection_source)
face_detection_EVAL_ARGS  ?= $(face_detection_source)
PATH_VARS += FACE_DETECTION_DATA_DIR
