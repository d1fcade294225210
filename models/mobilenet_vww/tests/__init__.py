"""mobilenet_vww's own tests (its owner's, with the model)."""
