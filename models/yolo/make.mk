# yolo: import the Efinix reference int8 weights into the cfg-built Keras model (YOLO_EPOCHS>0
# fine-tunes on TFDS coco/2017), PTQ calibrated on the YOLO_DATA_DIR images, mAP there side by
# side with the reference file. YOLO_DATA_DIR defaults to ../shared's coco128_person under CI.
YOLO_EPOCHS   ?= 0
YOLO_DATA_DIR ?= $(if $(ZOO_SHARED_DIR),$(ZOO_SHARED_DIR)/data/coco128_person)
yolo_DATA_ARGS  ?= $(if $(YOLO_DATA_DIR),--data-dir $(YOLO_DATA_DIR))
yolo_TRAIN_ARGS ?= --init efinix --epochs $(YOLO_EPOCHS)
# The imported model keeps the Efinix file's activation ranges (best on validation images, README);
# a fine-tuned one (YOLO_EPOCHS>0) is calibrated on a seeded half of YOLO_DATA_DIR.
YOLO_ACTIVATION_RANGES ?= $(if $(filter 0,$(YOLO_EPOCHS)),efinix,calibrated)
yolo_QUANT_ARGS ?= $(if $(YOLO_DATA_DIR),--data-dir $(YOLO_DATA_DIR)) --activation-ranges $(YOLO_ACTIVATION_RANGES)
yolo_EVAL_ARGS  ?= $(if $(YOLO_DATA_DIR),--data-dir $(YOLO_DATA_DIR))
PATH_VARS += YOLO_DATA_DIR
