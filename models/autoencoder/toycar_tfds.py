"""TFDS builder `dcase2020_toycar`: DCASE 2020 Task 2 development data, machine type ToyCar.

One example per clip: its log-mel frames (MLPerf Tiny front end, see features.py), label, machine
id and file name. Source: the upstream `dev_data_ToyCar.zip` (Zenodo record 3678171), or an already
extracted folder given as `manual_dir` (only the splits present there are built). Clips that cannot
be used (corrupt, shorter than 5 frames, misnamed) are skipped and named in `info.metadata["problems"]`,
as are clips resampled to 16 kHz.

Kept apart from data.py so that the class is registered once even when data.py runs as `__main__`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from models.autoencoder.features import LABELS, N_MELS, ClipError, clip_log_mel, find_splits, parse_name

NAME = "dcase2020_toycar"
URL = "https://zenodo.org/record/3678171/files/dev_data_ToyCar.zip"


class Dcase2020Toycar(tfds.core.GeneratorBasedBuilder):
    """DCASE 2020 Task 2 ToyCar clips as MLPerf Tiny log-mel frames."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "MLPerf Tiny front end: 128 log-mel bands, n_fft 1024, hop 512, 16 kHz.",
                     "1.1.0": "Log-mel computed in float64, rounded to float32: the same bits on every CPU."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Extract dev_data_ToyCar.zip (https://zenodo.org/record/3678171) and pass the folder holding "
        "ToyCar/ (or train/ and test/, or normal/ and anomaly/) as manual_dir / --data-dir."
    )

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS's own lookup needs the optional importlib_resources package; the answer is this file.
        from etils import epath

        return epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "log_mel": tfds.features.Tensor(shape=(None, N_MELS), dtype=np.float32),
                "label": tfds.features.ClassLabel(names=list(LABELS)),
                "machine_id": tfds.features.Text(),
                "file": tfds.features.Text(),
            }),
            homepage="https://dcase.community/challenge2020/task-unsupervised-detection-of-anomalous-sounds",
            citation="Koizumi et al., ToyADMOS, WASPAA 2019; DCASE 2020 Task 2.",
            metadata=tfds.core.MetadataDict(problems=[]),
        )

    def _source(self, dl_manager) -> Path:
        try:
            return Path(dl_manager.manual_dir)
        except AssertionError:  # no (or an empty) manual dir: fetch the upstream archive
            return Path(dl_manager.download_and_extract(URL))

    def _split_generators(self, dl_manager):
        splits = find_splits(self._source(dl_manager))
        return {name: self._generate_examples(name, files) for name, files in splits.items()}

    def _generate_examples(self, split: str, files):
        problems = self.info.metadata["problems"]
        for entry in files:
            path, folder_label = entry if isinstance(entry, tuple) else (entry, None)
            try:
                clip = parse_name(Path(path), folder_label)
                frames, note = clip_log_mel(clip.path)
            except ClipError as exc:
                problems.append({"split": split, "file": Path(path).name, "action": "skipped", "reason": str(exc)})
                continue
            if note:
                problems.append({"split": split, "file": clip.path.name, "action": "resampled", "reason": note})
            yield clip.path.name, {
                "log_mel": frames,
                "label": clip.label,
                "machine_id": clip.machine_id,
                "file": clip.path.name,
            }
