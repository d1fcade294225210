"""The pipeline every model runs: recipes, then data -> quantize -> evaluate."""
