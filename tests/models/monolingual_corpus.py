"""A tiny generated English corpus, binarized as fairseq's language-model tasks read it, for the model tests."""

import functools
import random

import pytest
from fairseq_in_process import fairseq_preprocess
from macaron_tools.data import toy_corpus

SPLIT_SIZES = {"train": 300, "valid": 21, "test": 13}
"""Sentences per split; neither evaluation split a multiple of 8, the batch-size multiple fairseq rounds to."""


def english_sentences(count, seed):
    rng = random.Random(seed)
    return [toy_corpus.sentence_pair(rng)[1] for _ in range(count)]


def write_splits(root, name, splits):
    """Writes ``splits`` ({split: lines}) as ``root/name.<split>.txt``; returns fairseq-preprocess's flags for them."""
    flags = []
    for split, lines in splits.items():
        path = root / f"{name}.{split}.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        flags += [f"--{split}pref", path]
    return flags


def binarize(root, name, splits):
    """Binarizes ``splits`` with ``fairseq-preprocess --only-source`` (in this process) into ``root/name``."""
    destdir = root / name
    fairseq_preprocess("--only-source", *write_splits(root, name, splits), "--destdir", destdir, "--workers", 1)
    return destdir


@functools.cache
def binarized_once(root):
    """``root/data-bin``: the corpus of :data:`SPLIT_SIZES`, binarized; returns (folder, {split: sentences})."""
    root.mkdir()
    splits = {split: english_sentences(count, 1 + i) for i, (split, count) in enumerate(SPLIT_SIZES.items())}
    return binarize(root, "data-bin", splits), splits


@pytest.fixture(scope="session")
def english_corpus(tmp_path_factory):
    """(data-bin, {split: sentences}) of the corpus, binarized once a session: each test module importing this
    fixture is a fixture of its own to pytest, so the binarization is cached here."""
    return binarized_once(tmp_path_factory.getbasetemp() / "english")
