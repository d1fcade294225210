"""Shared toolkit for every model of the zoo: weights, calibration, PTQ, LiteRT runner, validation, metrics."""
