"""Your own keywords (`--keywords yes,no,up,down`): a Speech Commands folder read as the classes you
choose, as MLPerf Tiny builds them: your words in the order given, then `_silence_` and `_unknown_`
(the zoo's own twelve classes are its ten words in this order).

The folder holds one sub-folder per word (`<word>/<speaker>_nohash_<n>.wav|.flac`) and, optionally,
`_unknown_` (clips of other words), `_silence_` (clips of silence) and `_background_noise_` (long
recordings). A word that is not a keyword is `_unknown_`. `_silence_` is the `_silence_` folder's clips,
else 1 s windows of the background recordings, else (training only) silent clips; the recordings
are also what training mixes into the clips. The clips are split by speaker, so that no speaker is in
two parts: by the archive's testing_list.txt / validation_list.txt when the folder has them (the
published model never trained on those speakers), else by a hash of the speaker id, train 70%,
validation 10%, test 20%; a recording's windows by time (its first 70% train, ...).

A model trained with `--keywords` has its classes beside it (`model.classes.txt` beside
`model.keras`, and beside the `model.tflite` quantize writes), where quantize and evaluate find them.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from common.data import class_list
from common.data.audio import AUDIO_EXTENSIONS, AudioError, list_audio, load_audio
from common.errors import DataLayoutError, UserError
from models.dscnn_kws.frontend import SAMPLE_RATE
from models.dscnn_kws.recipe import RECIPE

ZOO_CLASSES = RECIPE.data.class_names
SILENCE, UNKNOWN = ZOO_CLASSES[-2:]
ZOO_KEYWORDS = ZOO_CLASSES[:-2]
BACKGROUND_NOISE = "_background_noise_"
RESERVED = (SILENCE, UNKNOWN, BACKGROUND_NOISE)
SPLITS = {"train": 70, "validation": 10, "test": 20}  # percent of the speakers (of a recording's seconds)
# Salted, unlike the README's hash: a folder drawn from one band of that hash (the canonical test
# set's speakers) would otherwise fall into one part whole.
SPLIT_SALT = "dscnn_kws keywords:"
SPLIT_LISTS = {"testing_list.txt": "test", "validation_list.txt": "validation"}
LAYOUT = "one sub-folder per word, <word>/<speaker>_nohash_<n>.wav|.flac"

_ACTIVE: ContextVar[tuple[str, ...] | None] = ContextVar("dscnn_kws_keywords", default=None)


# ---- the words ------------------------------------------------------------------------------------

def parse_keywords(text: str | Sequence[str]) -> tuple[str, ...]:
    """`yes,no,up` -> ("yes", "no", "up"); a UserError for no word, a repeated or a reserved one."""
    words = tuple(w.strip() for w in (text.split(",") if isinstance(text, str) else text))
    if not words or any(not w for w in words):
        raise UserError(f"--keywords {text!r}: name your words, comma-separated (e.g. --keywords yes,no,up,down)")
    repeated = sorted({w for w in words if words.count(w) > 1})
    if repeated:
        raise UserError(f"--keywords names {', '.join(repeated)} twice")
    reserved = [w for w in words if w in RESERVED or "/" in w or w.startswith(".")]
    if reserved:
        raise UserError(f"--keywords: {', '.join(reserved)} cannot be a keyword ({SILENCE} and {UNKNOWN} are "
                        f"always classes; {BACKGROUND_NOISE} holds noise)")
    return words


def class_names(keywords: Sequence[str]) -> tuple[str, ...]:
    """The model's outputs in order: the keywords as given, then _silence_, _unknown_."""
    return (*keywords, SILENCE, UNKNOWN)


@contextlib.contextmanager
def using(keywords: Sequence[str] | None) -> Iterator[None]:
    """Within it, the recipe's reader and lister (`models.dscnn_kws.data`) read a folder with these
    keywords (None: the zoo's twelve classes)."""
    token = _ACTIVE.set(tuple(keywords) if keywords else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> tuple[str, ...] | None:
    return _ACTIVE.get()


# ---- the folder -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class WordFolders:
    """What a folder holds, before any word is chosen: clips per word folder (`_unknown_` included),
    the `_silence_` clips and the background recordings."""

    root: Path
    words: dict[str, list[Path]]
    silence: list[Path] = field(default_factory=list)
    background: list[Path] = field(default_factory=list)


def word_folders(data_dir: str | os.PathLike) -> WordFolders:
    """The word folders of `data_dir`, or one line naming the folder and the fix: no such folder, clips
    outside any word folder, no word folder, a folder without clips, a single word folder."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: no such folder ({LAYOUT})")
    loose = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if loose:
        shown = ", ".join(loose[:3]) + (f" and {len(loose) - 3} more" if len(loose) > 3 else "")
        raise DataLayoutError(f"{root}: {len(loose)} clips lie outside any word folder ({shown}): move each into "
                              f"the folder of its word ({LAYOUT})")
    folders = {p.name: list_audio(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    empty = [name for name, clips in folders.items() if not clips]
    if empty:
        raise DataLayoutError(f"{root}: folder(s) {', '.join(empty)} hold no clips ({', '.join(AUDIO_EXTENSIONS)}): "
                              "add some or remove the folder")
    words = {name: clips for name, clips in folders.items() if name not in (SILENCE, BACKGROUND_NOISE)}
    if not words:
        raise DataLayoutError(f"{root}: no word folder in it ({LAYOUT})")
    if len(words) < 2:
        raise DataLayoutError(f"{root}: 1 word folder ({', '.join(words)}); at least 2 are needed: your keywords "
                              f"and other words (or an {UNKNOWN} folder) for {UNKNOWN}")
    return WordFolders(root, words, folders.get(SILENCE, []), folders.get(BACKGROUND_NOISE, []))


@dataclass(frozen=True)
class Clip:
    """One item: a file, or a 1 s window of a background recording (`start` > -1)."""

    id: str  # its path in the folder; a window "<path>#<second>"
    label: int
    path: Path
    start: int = -1  # first sample of a window


@dataclass(frozen=True)
class KeywordFolder:
    root: Path
    keywords: tuple[str, ...]
    clips: list[Clip]  # of the split asked for
    background: list[Path]
    synthetic_silence: bool  # no _silence_ folder and no recordings: training adds silent clips
    unreadable: list[dict] = field(default_factory=list)  # recordings whose windows could not be listed

    @property
    def classes(self) -> tuple[str, ...]:
        return class_names(self.keywords)

    def counts(self) -> dict[str, int]:
        labels = np.bincount([c.label for c in self.clips], minlength=len(self.classes))
        return dict(zip(self.classes, map(int, labels)))


def speaker(path: Path) -> str:
    """The speaker of `<speaker>_nohash_<n>.wav`, also in the test set's pooled `_unknown_` folder
    (`<word>_<speaker>_nohash_<n>.wav`); a file without one is its own group."""
    stem = path.stem
    if "_nohash_" not in stem:
        return f"{path.parent.name}/{stem}"
    prefix = stem.split("_nohash_")[0]
    if path.parent.name == UNKNOWN:
        found = re.search(r"(?:^|_)([0-9a-f]{8})$", prefix)
        return found.group(1) if found else prefix
    return prefix


def hash_percent(group: str) -> float:
    """Where `group` falls in [0, 100), stably: the Speech Commands README's `which_set` hash."""
    max_per_class = 2**27 - 1
    digest = int(hashlib.sha1(group.encode()).hexdigest(), 16)
    return (digest % (max_per_class + 1)) * (100.0 / max_per_class)


def split_lists(root: Path) -> dict[str, str]:
    """The archive's own split: relative path -> "test"/"validation" from testing_list.txt and
    validation_list.txt ({} when the folder has neither; a clip in neither is "train")."""
    listed = {}
    for name, part in SPLIT_LISTS.items():
        if (root / name).is_file():
            listed.update({line.strip(): part for line in (root / name).read_text().splitlines() if line.strip()})
    return listed


def part_of(percent: float) -> str:
    """The split of a speaker (or a window) at `percent` in [0, 100)."""
    edge = 0.0
    for name, share in SPLITS.items():
        edge += share
        if percent < edge:
            return name
    return name


def _windows(path: Path) -> int:
    """Whole seconds of a recording, read from its header; an AudioError naming it if unreadable."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # soundfile raises several types for files it cannot read
        raise AudioError(f"{path}: cannot read its header ({exc})") from None
    return int(info.frames * SAMPLE_RATE // info.samplerate) // SAMPLE_RATE


def keyword_folder(data_dir: str | os.PathLike, keywords: Sequence[str], split: str = "all") -> KeywordFolder:
    """The clips of `split` ("all", "train", "validation", "test") with their labels in the classes
    of `keywords`; one line naming the fix when a keyword has no folder or nothing is `_unknown_`."""
    keywords = parse_keywords(keywords)
    if split not in ("all", *SPLITS):
        raise DataLayoutError(f"split {split!r} of a keyword folder: use one of all, {', '.join(SPLITS)}")
    folders = word_folders(data_dir)
    missing = [w for w in keywords if w not in folders.words]
    if missing:
        raise DataLayoutError(f"{folders.root}: keyword(s) {', '.join(missing)} have no folder (its word folders: "
                              f"{', '.join(folders.words)})")
    if not set(folders.words) - set(keywords):
        raise DataLayoutError(f"{folders.root}: every word folder is a keyword, so nothing is {UNKNOWN}: add "
                              f"folders of other words (or an {UNKNOWN} folder)")
    classes = class_names(keywords)
    rel = lambda p: p.relative_to(folders.root).as_posix()  # noqa: E731
    clips = []
    for word, paths in folders.words.items():
        label = classes.index(word) if word in keywords else classes.index(UNKNOWN)
        clips += [Clip(rel(p), label, p) for p in paths]
    silence = classes.index(SILENCE)
    clips += [Clip(rel(p), silence, p) for p in folders.silence]
    listed = split_lists(folders.root)

    def part(clip: Clip) -> str:
        return listed.get(clip.id, "train") if listed else part_of(hash_percent(SPLIT_SALT + speaker(clip.path)))

    chosen = [c for c in clips if split == "all" or part(c) == split]
    unreadable = []
    if not folders.silence:
        for path in folders.background:
            try:
                n = _windows(path)
            except AudioError as exc:
                unreadable.append({"file": rel(path), "error": str(exc)})
                continue
            chosen += [Clip(f"{rel(path)}#{k}", silence, path, k * SAMPLE_RATE) for k in range(n)
                       if split == "all" or part_of(100.0 * (k + 0.5) / n) == split]
    return KeywordFolder(folders.root, keywords, sorted(chosen, key=lambda c: c.id), folders.background,
                         synthetic_silence=not folders.silence and len(unreadable) == len(folders.background),
                         unreadable=unreadable)


def read_waves(folder: KeywordFolder, only: set[str] | None = None
               ) -> tuple[list[np.ndarray], list[Clip], list[dict]]:
    """The 16 kHz samples of the folder's clips (those of `only`), the clips read, and the files
    skipped (named on stderr, never relabelled)."""
    waves, read, skipped, recordings = [], [], list(folder.unreadable), {}
    for entry in skipped:
        print(f"skipping {entry['error']}", file=sys.stderr)
    for clip in folder.clips:
        if only is not None and clip.id not in only:
            continue
        try:
            if clip.start < 0:
                audio = load_audio(clip.path, SAMPLE_RATE)
            else:
                if clip.path not in recordings:
                    recordings[clip.path] = load_audio(clip.path, SAMPLE_RATE)
                audio = recordings[clip.path][clip.start:clip.start + SAMPLE_RATE]
        except AudioError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            skipped.append({"file": clip.id, "error": str(exc)})
            continue
        waves.append(audio)
        read.append(clip)
    return waves, read, skipped


def silent_clips(n: int) -> list[np.ndarray]:
    """`n` silent clips: `_silence_` for training when the folder has neither a `_silence_` folder
    nor background recordings (MLPerf's silence is a zero clip with noise mixed in)."""
    return [np.zeros(SAMPLE_RATE, np.float32) for _ in range(n)]


def map_labels(predicted: np.ndarray, from_classes: Sequence[str], to_keywords: Sequence[str]) -> np.ndarray:
    """Class indices of one model's classes as the classes of `to_keywords`: a keyword stays itself,
    `_silence_` stays silence, every other word becomes `_unknown_` (the zoo's twelve-class model
    scored on your keywords)."""
    target = class_names(to_keywords)
    lookup = np.array([target.index(name) if name in target else target.index(UNKNOWN) for name in from_classes])
    return lookup[np.asarray(predicted, np.int64)]


# ---- the classes beside a model -------------------------------------------------------------------

def describe_classes(keywords: Sequence[str] | None) -> str:
    return f"keywords {','.join(keywords)}" if keywords else f"the zoo's {len(ZOO_CLASSES)} classes"


def write_classes(model: str | os.PathLike, keywords: Sequence[str] | None) -> Path | None:
    """Record the classes of `model` beside it (`common.data.class_list`; None: the zoo's classes, a stale
    record is removed)."""
    return class_list.write_classes(model, class_names(keywords) if keywords else None)


def read_classes(model: str | os.PathLike) -> tuple[str, ...] | None:
    """The keywords of the classes recorded beside `model` (None: none recorded, the zoo's classes)."""
    names = class_list.read_classes(model)
    if names is None:
        return None
    if names[-2:] != (SILENCE, UNKNOWN):
        raise UserError(f"{class_list.classes_file(model)}: the classes of a keyword model end with {SILENCE}, "
                        f"{UNKNOWN} (these: {', '.join(names)}); train it again")
    return parse_keywords(names[:-2])


def check_outputs(model: str | os.PathLike, keywords: Sequence[str] | None) -> None:
    """A UserError unless `model` has one output per class of `keywords` (None: the zoo's)."""
    classes = class_names(keywords) if keywords else ZOO_CLASSES
    model = Path(model)
    if not model.is_file() or model.suffix not in (".tflite", ".keras", ".h5"):
        return  # the step names what is wrong with the file itself
    if model.suffix == ".tflite":
        from common.graph.runners import Runner

        outputs = int(Runner(model).outputs[0]["shape"][-1])
    else:
        from common.graph.keras_io import load_model

        outputs = int(load_model(model).output_shape[-1])
    if outputs != len(classes):
        name = class_list.classes_file(model).name
        where = name if keywords else f"no {name} beside it"
        raise UserError(f"{model} has {outputs} outputs but {len(classes)} classes ({describe_classes(keywords)}: "
                        f"{where}); give the files of one training")
