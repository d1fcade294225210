"""MLPerf Tiny Deep AutoEncoder: anomaly detection on ToyADMOS ToyCar (640-d log-mel vectors)."""
