# resnet_cifar: import MLPerf Tiny's pretrained weights; RESNET_CIFAR_EPOCHS>0 fine-tunes them.
RESNET_CIFAR_EPOCHS     ?= 0
resnet_cifar_TRAIN_ARGS ?= --init pretrained --epochs $(RESNET_CIFAR_EPOCHS)
