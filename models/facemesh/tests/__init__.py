"""facemesh's own tests (its owner's, with the model)."""
