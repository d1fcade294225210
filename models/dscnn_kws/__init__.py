"""MLPerf Tiny DS-CNN keyword spotting (49x10 MFCC, 12 classes)."""
