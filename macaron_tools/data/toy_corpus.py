"""A small synthetic German-English corpus, for runs where no real corpus is at hand.

Sentences come from a fixed grammar and lexicon, so a small model learns them in a few hundred updates: word
choice, agreement-free article mapping and a verb-final word order in the German side make it a (tiny)
translation task rather than a copy. The files mirror Multi30k's raw layout (``train.de.gz``, ``val.en.gz``,
``test_2016_flickr.de.gz`` ...), so ``scripts/prepare-multi30k.sh --raw-dir`` prepares them like the real corpus.

    python -m macaron_tools.data.toy_corpus OUT_DIR [--train 5000] [--seed 1]
"""

import argparse
import gzip
import os
import random

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.files import atomic_path

NOUNS = {
    "Hund": "dog", "Katze": "cat", "Mann": "man", "Frau": "woman", "Kind": "child", "Junge": "boy",
    "Mädchen": "girl", "Vogel": "bird", "Pferd": "horse", "Arbeiter": "worker", "Fahrer": "driver",
    "Musiker": "musician", "Lehrer": "teacher", "Spieler": "player", "Koch": "cook",
}
ADJECTIVES = {
    "kleine": "small", "große": "big", "alte": "old", "junge": "young", "rote": "red", "blaue": "blue",
    "müde": "tired", "glückliche": "happy", "schnelle": "fast", "ruhige": "quiet",
}
VERBS = {
    "läuft": "runs", "spielt": "plays", "schläft": "sleeps", "wartet": "waits", "singt": "sings",
    "arbeitet": "works", "springt": "jumps", "lacht": "laughs",
}
PLACES = {
    "im Park": "in the park", "am Strand": "on the beach", "auf der Straße": "on the street",
    "im Garten": "in the garden", "vor dem Haus": "in front of the house", "am Fluss": "by the river",
}
ADVERBS = {"heute": "today", "oft": "often", "langsam": "slowly", "gerne": "gladly"}

SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr", "test1": "test_2017_flickr"}
"""Split name -> file stem, as in Multi30k's raw folder."""


def sentence_pair(rng):
    adjective = rng.choice(sorted(ADJECTIVES))
    noun = rng.choice(sorted(NOUNS))
    verb = rng.choice(sorted(VERBS))
    place = rng.choice(sorted(PLACES))
    german = ["Der", adjective, noun, verb, place]
    english = ["The", ADJECTIVES[adjective], NOUNS[noun], VERBS[verb], PLACES[place]]
    if rng.random() < 0.5:
        adverb = rng.choice(sorted(ADVERBS))
        # German puts the adverb second and moves the subject after the verb.
        german = [adverb.capitalize(), verb, "der", adjective, noun, place]
        english = english + [ADVERBS[adverb]]
    return " ".join(german) + ".", " ".join(english) + "."


def write_corpus(out_dir, sizes, seed=1):
    """Writes every split of ``sizes`` ({split: pairs}) to ``out_dir``; returns the files written."""
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for split, count in sizes.items():
        pairs = [sentence_pair(rng) for _ in range(count)]
        for side, lang in enumerate(("de", "en")):
            path = os.path.join(out_dir, f"{SPLITS[split]}.{lang}.gz")
            with atomic_path(path) as temporary, gzip.open(temporary, "wt", encoding="utf-8") as f:
                f.writelines(pair[side] + "\n" for pair in pairs)
            written.append(path)
    return written


def pair_count(text):
    """A number of sentence pairs: 1 or more (prepare-corpus.sh needs a sentence in every split)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--train", type=pair_count, default=5000, help="training pairs (default: 5000)")
    parser.add_argument("--eval", type=pair_count, default=500, help="pairs in valid, test and test1 (default: 500)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise MacaronFairseqError(f"{args.out_dir} is a file: give a folder to write the corpus into")
    sizes = {"train": args.train, "valid": args.eval, "test": args.eval, "test1": args.eval}
    try:
        written = write_corpus(args.out_dir, sizes, args.seed)
    except OSError as error:  # a folder inside a file, or one this user cannot write
        raise MacaronFairseqError(f"cannot write {args.out_dir} ({error.strerror}): give a folder you can "
                                  f"write") from None
    for path in written:
        print(path)


if __name__ == "__main__":
    run_command(main)
