"""A tiny generated English corpus, binarized as fairseq's language-model tasks read it, for the model tests."""

import random

from conftest import fairseq_command, run
from macaron_fairseq.data import toy_corpus

SPLIT_SIZES = {"train": 300, "valid": 21, "test": 13}
"""Sentences per split; neither evaluation split a multiple of 8, the batch-size multiple fairseq rounds to."""


def english_sentences(count, seed):
    rng = random.Random(seed)
    return [toy_corpus.sentence_pair(rng)[1] for _ in range(count)]


def binarize(root, name, splits, srcdict=None):
    """Writes ``splits`` ({split: lines}) under ``root`` and binarizes them with ``fairseq-preprocess
    --only-source`` into ``root/name``, with the dictionary ``srcdict`` if given; returns that folder."""
    prefixes = {}
    for split, lines in splits.items():
        path = root / f"{name}.{split}.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        prefixes[f"--{split}pref"] = path
    destdir = root / name
    extra = ["--srcdict", srcdict] if srcdict else []
    run(fairseq_command("preprocess", "--only-source", *[x for p in prefixes.items() for x in p],
                        "--destdir", destdir, "--workers", 1, *extra))
    return destdir


def english_data_bin(root, seed=1):
    """``root/data-bin``: the corpus of :data:`SPLIT_SIZES`, binarized; returns (folder, {split: sentences})."""
    splits = {split: english_sentences(count, seed + i) for i, (split, count) in enumerate(SPLIT_SIZES.items())}
    return binarize(root, "data-bin", splits), splits
