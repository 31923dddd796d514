"""The steps of ``scripts/prepare-lm.sh``: monolingual text for fairseq's language_modeling and masked_lm tasks.

The text goes through what a side of a parallel corpus goes through in ``prepare_corpus`` (the same reading,
Moses preprocessing, length filter and sentencepiece encoding, called from here), one language at a time, and the
folder's facts are written to ``lm_corpus.json`` (``corpus.json`` describes a language pair).

    python -m macaron_tools.data.lm_corpus text --lang en --out-dir tok [--lowercase] [--tokenized] \\
        [--min-tokens 1] [--max-tokens N] train=raw/train.en.gz valid=raw/val.en.gz test=raw/test.en.gz
    python -m macaron_tools.data.lm_corpus encode --model bpe/spm.model --lang en --in-dir tok \\
        --out-dir bpe --splits train valid test
    python -m macaron_tools.data.lm_corpus metadata --out-dir data-bin/NAME --lang en --splits train valid test \\
        --bpe-size 4000 [--lowercase] [--tokenized] --min-tokens 1 [--max-tokens N]
    python -m macaron_tools.data.lm_corpus facts DIR --get bpe_size

Training lines that are empty, or whose token count is outside ``--min-tokens``/``--max-tokens``, are dropped;
the evaluation splits keep every line, so that their perplexity is over the whole text as given (fairseq reads an
empty line as a sentence of just </s>). Bad input ends a command with one ``error: ...`` line and exit status 1.
"""

import argparse
import dataclasses
import json
import os
import signal
import sys
from typing import Optional

if __name__ == "__main__":
    # Ctrl-C ends a step at once, without a traceback; the calling script says that the run was interrupted.
    signal.signal(signal.SIGINT, signal.SIG_DFL)

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.data.corpus_metadata import MosesOptions
from macaron_tools.data.length_filter import LengthFilter
from macaron_tools.data.moses_tokenize import ProgressCounter, preprocess_lines
from macaron_tools.data.prepare_corpus import positive_int, report_empty_lines, say
from macaron_tools.data.text_files import CorpusError, count_corpus_lines, read_corpus_lines, split_path
from macaron_tools.files import atomic_output, count_lines, read_lines, require_input_file, require_output_folder

FILE_NAME = "lm_corpus.json"
FORMAT = 1


def parse_split_file(spec):
    """``train=raw/train.en.gz`` -> ("train", "raw/train.en.gz")."""
    split, equals, path = spec.partition("=")
    if not equals or not split or not path:
        raise CorpusError(f"'{spec}' is not SPLIT=FILE: write e.g. train=raw/train.en.gz")
    return split, path


def prepare_text(args):
    options = dict(lang=args.lang, lowercase=args.lowercase)
    require_output_folder(args.out_dir, "--out-dir")
    splits = [parse_split_file(spec) for spec in args.splits]
    # Every file read once before the first is tokenized: a bad byte is reported before minutes of work, not after.
    counts = {}
    for split, path in splits:
        require_input_file(path, what=f"{args.lang} text, one sentence a line")
    for split, path in splits:
        counts[split] = count_corpus_lines(path)
        if counts[split] == 0:
            raise CorpusError(f"{path} is empty: the {split} split needs at least one line of text")
    for index, (split, path) in enumerate(splits):
        lines = counts[split]
        sentences = (line.rstrip() for line in read_corpus_lines(path))
        if args.tokenized:
            # already tokenized (WikiText): only lowercasing, which the Moses step would otherwise do
            processed = (line.lower() for line in sentences) if args.lowercase else sentences
        else:
            progress = ProgressCounter(f"{split}.{args.lang}", args.progress_every)
            processed = preprocess_lines(sentences, options, args.workers, lines, progress)
        output = split_path(args.out_dir, split, args.lang)
        # the first split is the training text: the only one filtered
        length_filter = LengthFilter(args.min_tokens, args.max_tokens) if index == 0 else None
        with atomic_output(output) as out:
            for line in processed:
                # one side of a pair given twice: the filter's length limits, and a ratio of 1
                if length_filter is None or length_filter.keep(line, line):
                    out.write(line + "\n")
            if length_filter is not None and length_filter.counts["kept"] == 0:  # raised here: no file is left
                raise CorpusError(f"no line of {path} is left after cleaning ({length_filter.summary()}): give text "
                                  f"with words in it, or other --min-tokens/--max-tokens")
        if length_filter is not None:
            say(f"[clean] {split}: {length_filter.summary().replace('pairs', 'lines')}")
        else:
            report_empty_lines(split, [output])


def encode(args):
    from macaron_tools.data.sentencepiece_bpe import encode_as_pieces

    require_input_file(args.model, "--model", "the sentencepiece model (SPM.model)")
    require_output_folder(args.out_dir, "--out-dir")
    for split in args.splits:
        output = os.path.join(args.out_dir, split)  # fairseq-preprocess's --trainpref and the others name it
        with atomic_output(output) as out:
            for pieces in encode_as_pieces(args.model, read_lines(split_path(args.in_dir, split, args.lang)),
                                           args.threads):
                out.write(pieces + "\n")
        say(f"[bpe-encode] {split}: {count_lines(output):,} lines")


@dataclasses.dataclass(frozen=True)
class LanguageModelCorpus:
    """The facts of a folder prepared by scripts/prepare-lm.sh."""

    lang: str
    moses: Optional[MosesOptions]
    """Moses options the text went through; None when it came tokenized (--tokenized)."""
    bpe_model: Optional[str]
    """The sentencepiece model, relative to the folder; None for a word-level vocabulary."""
    bpe_size: int
    """The pieces asked for (0: words, no sentencepiece)."""
    splits: tuple
    """fairseq's split names, train first."""
    name: str = ""
    cleaning: dict = dataclasses.field(default_factory=dict)
    """How training lines were filtered: min_tokens, max_tokens (None: no limit)."""

    def to_json(self):
        return {"format": FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, record):
        record = dict(record)
        record.pop("format", None)
        record["moses"] = MosesOptions(**record["moses"]) if record["moses"] is not None else None
        record["splits"] = tuple(record["splits"])
        return cls(**record)


def write_metadata(args):
    require_output_folder(args.out_dir, "--out-dir")
    corpus = LanguageModelCorpus(
        lang=args.lang, moses=None if args.tokenized else MosesOptions(lowercase=args.lowercase),
        bpe_model="spm.model" if args.bpe_size else None, bpe_size=args.bpe_size, splits=tuple(args.splits),
        name=args.name or os.path.basename(os.path.normpath(args.out_dir)),
        cleaning=dict(min_tokens=args.min_tokens, max_tokens=args.max_tokens),
    )
    with atomic_output(os.path.join(args.out_dir, FILE_NAME)) as out:
        json.dump(corpus.to_json(), out, indent=2)
        out.write("\n")


def read(data_dir):
    """The facts of a prepared folder, or None when it has no lm_corpus.json."""
    path = os.path.join(data_dir, FILE_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return LanguageModelCorpus.from_json(json.load(f))
    except (ValueError, TypeError, KeyError) as error:
        raise MacaronFairseqError(f"{path} is not a description this version reads ({error}): prepare the data "
                                  f"again (scripts/prepare-lm.sh)") from None


def facts(args):
    corpus = read(args.data_dir)
    if corpus is None:
        raise MacaronFairseqError(f"{args.data_dir} has no {FILE_NAME}: prepare it with scripts/prepare-lm.sh")
    for name in args.get:
        value = getattr(corpus, name)
        print(" ".join(value) if isinstance(value, tuple) else "" if value is None else value)


FIELDS = ("lang", "bpe_model", "bpe_size", "splits", "name")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m macaron_tools.data.lm_corpus",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    workers = len(os.sched_getaffinity(0))

    sub = commands.add_parser("text", help="read, Moses-tokenize and clean each split's text")
    sub.set_defaults(function=prepare_text)
    sub.add_argument("--lang", required=True, help="the text's language (Moses' rules)")
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--lowercase", action="store_true")
    sub.add_argument("--tokenized", action="store_true", help="the text is tokenized already: no Moses step")
    sub.add_argument("--min-tokens", type=positive_int, default=1)
    sub.add_argument("--max-tokens", type=positive_int, default=None)
    sub.add_argument("--workers", type=positive_int, default=workers)
    sub.add_argument("--progress-every", type=positive_int, default=100000)
    sub.add_argument("splits", nargs="+", metavar="SPLIT=FILE", help="train first")

    sub = commands.add_parser("encode", help="write each split as sentencepiece pieces")
    sub.set_defaults(function=encode)
    sub.add_argument("--model", required=True)
    sub.add_argument("--in-dir", required=True)
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--lang", required=True, help="the input files are SPLIT.LANG")
    sub.add_argument("--splits", nargs="+", required=True)
    sub.add_argument("--threads", type=positive_int, default=workers)

    sub = commands.add_parser("metadata", help=f"write {FILE_NAME}")
    sub.set_defaults(function=write_metadata)
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--name", default="")
    sub.add_argument("--lang", required=True)
    sub.add_argument("--splits", nargs="+", required=True)
    sub.add_argument("--bpe-size", type=int, required=True, help="0: a word-level vocabulary")
    sub.add_argument("--lowercase", action="store_true")
    sub.add_argument("--tokenized", action="store_true")
    sub.add_argument("--min-tokens", type=positive_int, default=1)
    sub.add_argument("--max-tokens", type=positive_int, default=None)

    sub = commands.add_parser("facts", help=f"print fields of a folder's {FILE_NAME}, one a line")
    sub.set_defaults(function=facts)
    sub.add_argument("data_dir")
    sub.add_argument("--get", action="append", required=True, choices=FIELDS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.function(args)
    except MacaronFairseqError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_command(main)
