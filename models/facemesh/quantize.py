"""Full-int8 PTQ of the imported face landmark model, calibrated on real face crops (the pipeline's
quantize step with this model's recipe).

Calibration set: the face crops of every 3rd photo of each folder (those photos are not scored), each
also mirrored, plus a brightness/contrast-jittered copy of all of those (seeded), plus the same photos
whole, resized to 192x192: mostly no centred face, so the face-flag output is calibrated on negative
logits too (otherwise its int8 range starts at 0 and "no face" cannot be said).

PReLU layers (`--mixed-prelu`): 5 of MediaPipe's 23 mix alphas <= 1 and > 1 (8 channels > 1, up to
1.37). `clamp` (default) converts them as max(x, a*x) with those alphas clamped to 1, which is what the
Efinix reference computes: MUL + MAXIMUM like every other layer, so the graph is as lean as the
reference's. `exact` keeps MediaPipe's function, x + (a-1)*min(x, 0): MINIMUM + MUL + ADD, about 2%
slower under TFLM (`python -m benchmarks.facemesh_graph`). The float model.keras is exact either way.

    python -m models.facemesh.quantize --model build/facemesh/model.keras --out build/facemesh/model.tflite \\
        --data-dir ../shared/data/faces
"""
from common.pipeline.quantize import step

main = step("facemesh", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
