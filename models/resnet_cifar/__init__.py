"""MLPerf Tiny ResNet-8 on CIFAR-10 (image classification, 32x32x3, 10 classes)."""
