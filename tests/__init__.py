"""The tests of common/ and of what spans models (each model's own tests live in models/<m>/tests/)."""
