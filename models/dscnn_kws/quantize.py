"""Full-int8 PTQ of the DS-CNN, calibrated on MFCCs of real clips (the pipeline's quantize step with this
model's recipe).

    python -m models.dscnn_kws.quantize --model build/dscnn_kws/model.keras --out build/dscnn_kws/model.tflite \\
        --data-dir ../shared/data/speech_commands_v0.02_test_subset

With --data-dir, whole speakers of the scored clips (all clips of a test-set folder; testing_list.txt of
an archive is another split, so there its validation_list.txt clips calibrate) are drawn in a seeded
order until --calibration-n clips; the `.quant.json` sidecar lists them (relative paths and sha256), and
evaluation leaves them out. Without it, a seeded sample of the TFDS speech_commands validation split
is used (as MLPerf Tiny). A model trained on your --keywords (its `<name>.classes.txt` beside it)
calibrates on the validation speakers of its folder, and its classes go beside --out.
"""
from __future__ import annotations

import sys
from typing import Sequence

from common.cli import option_values, user_errors_as_one_line
from common.pipeline.quantize import step
from models.dscnn_kws import keywords as kw

_step = step("dscnn_kws", __doc__)


@user_errors_as_one_line()
def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    model = option_values(argv, "--model")["--model"]
    keywords = kw.read_classes(model) if model else None
    if model:
        kw.check_outputs(model, keywords)
    with kw.using(keywords):
        _step(argv)  # carries the class list beside --out


if __name__ == "__main__":
    from common.cli import run

    run(main)
