"""dscnn_kws's own tests (its owner's, with the model)."""
