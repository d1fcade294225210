"""Top-1 accuracy of a DS-CNN model (.keras, .h5 or .tflite) on Speech Commands (the pipeline's evaluate
step with this model's recipe); prints one JSON line.

    python -m models.dscnn_kws.evaluate --model build/dscnn_kws/model.tflite --data-dir DIR
    python -m models.dscnn_kws.evaluate --model ../shared/pretrained/efinix/ds_cnn_kws.tflite --data-dir DIR
    python -m models.dscnn_kws.evaluate --model build/dscnn_kws/model.tflite --data-dir DIR \\
        --float-model build/dscnn_kws/model.keras --report build/dscnn_kws/report.json --plots-dir build/dscnn_kws

DIR is any folder in the Speech Commands layout (`<label>/<file>.wav|flac`): all its clips are scored,
or only those of testing_list.txt in a full v0.02 archive; without --data-dir the TFDS
speech_commands test split is used. Corrupt or empty files are reported by name, counted
("skipped") and left out; the run goes on. The clips whose speakers calibrated the .tflite are
left out of every score (`all_items` in report.json keeps the whole folder for comparison).
A model trained on your --keywords (its `<name>.classes.txt` beside it) is scored on the test
speakers of its folder, in its classes (`class_names` in report.json).
"""
from __future__ import annotations

import sys
from typing import Sequence

from common.cli import option_values, user_errors_as_one_line
from common.errors import UserError
from common.pipeline.evaluate import check_command_models, step
from models.dscnn_kws import keywords as kw
from models.dscnn_kws.recipe import RECIPE

_step = step("dscnn_kws", __doc__)


@user_errors_as_one_line()
def main(argv: Sequence[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    check_command_models(RECIPE, argv)  # the files' own checks before their classes'
    given = option_values(argv, "--model", "--float-model")
    keywords = kw.read_classes(given["--model"]) if given["--model"] else None
    for option, path in given.items():
        if path:
            theirs = kw.read_classes(path)
            if theirs != keywords:
                raise UserError(f"{given['--model']} and {path} know other classes ({kw.describe_classes(keywords)} "
                                f"vs {kw.describe_classes(theirs)}): give the files of one training")
            kw.check_outputs(path, keywords)
    with kw.using(keywords):
        return _step(argv)


if __name__ == "__main__":
    from common.cli import run

    run(main)
