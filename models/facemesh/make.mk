# facemesh: import MediaPipe's face landmark tflite into Keras (no training), calibrate on face crops,
# evaluate int8 vs MediaPipe's float model. Photos: FACEMESH_DATA_DIR (a folder, searched
# recursively; ../shared/data/faces when ZOO_SHARED_DIR is set), else TFDS lfw.
FACEMESH_DATA_DIR ?= $(if $(ZOO_SHARED_DIR),$(ZOO_SHARED_DIR)/data/faces)
facemesh_source = $(if $(FACEMESH_DATA_DIR),--data-dir $(FACEMESH_DATA_DIR))
facemesh_DATA_ARGS  ?= $(facemesh_source)
# PReLU layers mixing alphas <= 1 and > 1: clamp (MUL + MAXIMUM, as lean as the Efinix file) or exact
FACEMESH_MIXED_PRELU ?= clamp
facemesh_QUANT_ARGS ?= $(facemesh_source) --mixed-prelu $(FACEMESH_MIXED_PRELU)
facemesh_EVAL_ARGS  ?= $(facemesh_source)
PATH_VARS += FACEMESH_DATA_DIR
