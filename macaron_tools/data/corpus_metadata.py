"""The facts of a prepared data folder, in the folder: ``DIR/corpus.json``.

``scripts/prepare-*.sh`` write it beside fairseq-preprocess's output: the direction, the Moses options the text was
tokenized with, the sentencepiece model, the splits and their reference files, and the tokenized-BLEU variant the
references suit when that is a fact of the data (lowercased references can only be scored lowercased). Training,
evaluation and translation read the direction and the preprocessing from here, so that a recipe of
``scripts/settings.sh`` runs on any prepared corpus.

Data without ``corpus.json`` (the authors' released data-bin, or a folder of fairseq-preprocess's own) still has a
direction: fairseq-preprocess names its files ``SPLIT.SRC-TGT.LANG.idx``. Its other facts are unknown.

    python -m macaron_tools.data.corpus_metadata DIR --get src --get tgt [--checkpoint FILE]

prints each field asked for on a line of its own (a list as words separated by spaces, an unknown value as an
empty line); with ``--checkpoint`` it first refuses a model trained for another direction than the data's.
"""

import argparse
import dataclasses
import glob
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Optional

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.files import atomic_output

FILE_NAME = "corpus.json"
FORMAT = 1
REFERENCE_KINDS = ("detok", "tok")


class MetadataError(MacaronFairseqError):
    """A data folder or checkpoint whose facts cannot be read, or do not fit together; the message says why."""


@dataclass(frozen=True)
class MosesOptions:
    """The options of :class:`macaron_tools.data.moses_tokenize.MosesPreprocessor` the text was prepared with."""

    lowercase: bool = False
    aggressive_dash_splits: bool = False
    normalize_punctuation: bool = False
    remove_non_printing: bool = False
    straight_apostrophes: bool = False

    def enabled(self):
        """The names of the options that are on, as MosesPreprocessor's keyword arguments."""
        return [name for name, on in dataclasses.asdict(self).items() if on]


@dataclass(frozen=True)
class CorpusMetadata:
    src: str
    tgt: str
    moses: MosesOptions
    """Options of the training text: what a sentence to translate goes through."""
    eval_moses: MosesOptions
    """Options of the evaluation splits (IWSLT14's recipe also straightens apostrophes there)."""
    bpe_model: str
    """The sentencepiece model, relative to the data folder."""
    bpe_size: int
    """The vocabulary size asked for (a small corpus may give fewer pieces)."""
    splits: tuple
    """fairseq's split names, train first: train, valid, test, test1 ..."""
    tokenized_bleu: Optional[str] = None
    """"lowercase" when the references are lowercased; None when the data does not decide it."""
    name: str = ""
    cleaning: dict = field(default_factory=dict)
    """How training pairs were filtered: min_tokens, max_tokens, ratio (None: no limit)."""

    @property
    def evaluation_splits(self):
        return self.splits[1:]

    def reference(self, split, kind, lang=None):
        """The reference file of one split, relative to the data folder: refs/test.detok.en."""
        return f"refs/{split}.{kind}.{lang or self.tgt}"

    def to_json(self):
        record = dataclasses.asdict(self)
        record["splits"] = {
            split: {} if split == self.splits[0] else {
                lang: {kind: self.reference(split, kind, lang) for kind in REFERENCE_KINDS}
                for lang in (self.src, self.tgt)
            }
            for split in self.splits
        }
        return {"format": FORMAT, **record}

    @classmethod
    def from_json(cls, record):
        record = dict(record)
        record.pop("format", None)
        record["moses"] = MosesOptions(**record["moses"])
        record["eval_moses"] = MosesOptions(**record["eval_moses"])
        record["splits"] = tuple(record["splits"])
        return cls(**record)


def path_of(data_dir):
    return os.path.join(data_dir, FILE_NAME)


def write(data_dir, metadata):
    """Writes ``DIR/corpus.json``, whole or not at all."""
    with atomic_output(path_of(data_dir)) as f:
        json.dump(metadata.to_json(), f, indent=2)
        f.write("\n")


def read(data_dir):
    """The metadata of a data folder, or None when it has no corpus.json."""
    path = path_of(data_dir)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return CorpusMetadata.from_json(json.load(f))
    except (ValueError, TypeError, KeyError) as error:
        raise MetadataError(
            f"{path} is not a corpus description this version reads ({error}): prepare the data again"
        ) from None


def binarized_direction(data_dir):
    """(src, tgt) from fairseq-preprocess's file names (``train.de-en.de.idx``), or None when they name no pair
    or more than one."""
    pairs = set()
    for path in glob.glob(os.path.join(glob.escape(data_dir), "*.idx")):
        match = re.fullmatch(r"[^.]+\.([^.-]+)-([^.-]+)\.[^.]+\.idx", os.path.basename(path))
        if match:
            pairs.add(match.groups())
    return pairs.pop() if len(pairs) == 1 else None


def direction(data_dir):
    """(src, tgt) of a data folder: its corpus.json, else its file names; raises :class:`MetadataError`."""
    if os.path.isfile(data_dir):
        raise MetadataError(f"{data_dir} is a file: pass the folder of the prepared data (scripts/prepare-*.sh)")
    if not os.path.isdir(data_dir):
        raise MetadataError(f"data folder {data_dir} does not exist: prepare it (scripts/prepare-*.sh) or pass --data-dir")
    metadata = read(data_dir)
    if metadata is not None:
        return metadata.src, metadata.tgt
    pair = binarized_direction(data_dir)
    if pair is None:
        raise MetadataError(
            f"{data_dir} has no {FILE_NAME} and no fairseq-preprocess files of one language pair (SPLIT.SRC-TGT.LANG.idx):"
            " prepare it with scripts/prepare-corpus.sh"
        )
    return pair


def checkpoint_direction(checkpoint):
    """(source_lang, target_lang) a fairseq checkpoint was trained for, read weights-only from its cfg (or the
    args of older checkpoints); None when the file cannot be read that way (fairseq then says why)."""
    # Only here: reading a checkpoint is this module's one use of torch (the plugin's weights-only loading)
    from macaron_fairseq.checkpoint.safe_load import load_checkpoint_file

    try:
        state = load_checkpoint_file(checkpoint)
    except Exception:  # noqa: BLE001  any unreadable checkpoint: fairseq's own loading reports it in one line
        return None
    if not isinstance(state, dict):
        return None
    task = (state.get("cfg") or {}).get("task") if isinstance(state.get("cfg"), dict) else None
    if task is None and state.get("args") is not None:
        task = vars(state["args"])
    if not task or not task.get("source_lang") or not task.get("target_lang"):
        return None
    return task["source_lang"], task["target_lang"]


def require_same_direction(data_dir, checkpoint):
    """Raises :class:`MetadataError` when ``checkpoint`` was trained for another direction than ``data_dir``'s."""
    data = direction(data_dir)
    model = checkpoint_direction(checkpoint)
    if model is not None and tuple(model) != tuple(data):
        raise MetadataError(
            f"{checkpoint} translates {model[0]}->{model[1]} but {data_dir} is {data[0]}->{data[1]} data: pass the"
            f" --data-dir the model was trained on, or a model of that direction"
        )


def field_value(data_dir, name):
    """One field of the data's metadata as text (direction fields also for data without corpus.json)."""
    if name in ("src", "tgt"):
        return direction(data_dir)[name == "tgt"]
    metadata = read(data_dir)
    if name == "has_metadata":
        return "yes" if metadata is not None else ""
    if metadata is None:
        return ""
    value = {
        "moses": lambda: " ".join(metadata.moses.enabled()),
        "eval_moses": lambda: " ".join(metadata.eval_moses.enabled()),
        "splits": lambda: " ".join(metadata.splits),
    }.get(name, lambda: getattr(metadata, name))()
    return "" if value is None else str(value)


FIELDS = ("src", "tgt", "has_metadata", "moses", "eval_moses", "bpe_model", "bpe_size", "splits", "tokenized_bleu",
          "name")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m macaron_tools.data.corpus_metadata", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("data_dir", help="a prepared data folder")
    parser.add_argument("--get", action="append", required=True, choices=FIELDS, metavar="FIELD",
                        help=f"a field to print: {', '.join(FIELDS)}")
    parser.add_argument("--checkpoint", help="first refuse a checkpoint trained for another direction")
    args = parser.parse_args(argv)
    try:
        if args.checkpoint:
            require_same_direction(args.data_dir, args.checkpoint)
        values = [field_value(args.data_dir, name) for name in args.get]
    except MacaronFairseqError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for value in values:
        print(value)
    return 0


if __name__ == "__main__":
    run_command(main)
