"""The corpus preparation steps that ``scripts/prepare-*.sh`` run, one subcommand each.

Text moves between steps as folders of ``SPLIT.LANG`` files (``train.de``, ``train.en``, ``test.de`` ...),
fairseq's own naming; each command checks that both sides of every split it reads have the same number of lines.

    python -m macaron_tools.data.prepare_corpus extract --langs de en --out-dir text \\
        train=raw/train.{lang}.gz test=raw/a.de-en.{lang}.xml,raw/b.de-en.{lang}.xml
    python -m macaron_tools.data.prepare_corpus tokenize --langs de en --splits train test \\
        --in-dir text --out-dir tok [--lowercase] [--aggressive-dash-splits] [--normalize-punctuation] ...
    python -m macaron_tools.data.prepare_corpus clean --langs de en --split train --in-dir tok \\
        --out-dir clean --min-tokens 1 --max-tokens 175 --ratio 1.5 [--companion text text-clean]
    python -m macaron_tools.data.prepare_corpus bpe-train --model-prefix bpe/spm --vocab-size 10000 \\
        tok/train.de tok/train.en
    python -m macaron_tools.data.prepare_corpus bpe-encode --model bpe/spm.model --langs de en \\
        --splits train test --in-dir tok --out-dir bpe
    python -m macaron_tools.data.prepare_corpus metadata --langs de en --out-dir data-bin/NAME \\
        --splits train valid test --bpe-size 10000 [--lowercase] ... [--eval-straight-apostrophes] --min-tokens 1

Bad input ends the command with one ``error: ...`` line naming the file and the fix, and exit status 1.
"""

import argparse
import dataclasses
import os
import signal
import sys
from contextlib import ExitStack

if __name__ == "__main__":
    # Ctrl-C ends a step at once and without a traceback (even during the imports below); the calling script says
    # that the run was interrupted, and removes what the step had begun.
    signal.signal(signal.SIGINT, signal.SIG_DFL)

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.data import corpus_metadata, markup
from macaron_tools.data.length_filter import KEPT, LengthFilter
from macaron_tools.data.moses_tokenize import ProgressCounter, preprocess_lines
from macaron_tools.data.sentencepiece_bpe import encode_as_pieces, train_joint_bpe
from macaron_tools.data.text_files import (
    CorpusError,
    count_corpus_lines,
    empty_line_numbers,
    read_corpus_lines,
    require_same_length,
    split_path,
)
from macaron_tools.files import (
    atomic_output,
    count_lines,
    read_lines,
    require_input_file,
    require_output_folder,
    require_writable_output,
)

LANG_PLACEHOLDER = "{lang}"
SHOWN_EMPTY_LINES = 5


def say(message):
    print(message, file=sys.stderr, flush=True)


# --- extract ------------------------------------------------------------------------------------------------------


def sentences_of(path):
    """The sentences of one source file, by its kind: ``.xml``/``.sgm`` segments, IWSLT ``train.tags.*``
    training text, or plain lines (``.gz`` or not).

    Plain lines lose only trailing white space, as sacreBLEU reads plain-text test sets: a reference keeps
    everything else as written (a no-break space in "120\u00a0cm" included).
    """
    name = os.path.basename(path)
    lines = read_corpus_lines(path)
    if name.endswith((".xml", ".sgm")):
        return markup.segments(lines, path)
    if name.startswith("train.tags."):
        return markup.ted_training_sentences(lines)
    return (line.rstrip() for line in lines)


def parse_split_spec(spec):
    """``test=a.{lang}.xml,b.{lang}.xml`` -> ("test", ["a.{lang}.xml", "b.{lang}.xml"])."""
    split, equals, sources = spec.partition("=")
    templates = [template for template in sources.split(",") if template]
    if not equals or not split or not templates:
        raise CorpusError(f"'{spec}' is not SPLIT=FILE[,FILE...]: write e.g. train=raw/train.{{lang}}.gz")
    for template in templates:
        if LANG_PLACEHOLDER not in template:
            raise CorpusError(
                f"'{template}' has no {LANG_PLACEHOLDER}: write the file name with {{lang}} for the language"
            )
    return split, templates


def extract(args):
    require_output_folder(args.out_dir, "--out-dir")
    # every file looked at before the first is read: a typo in the last split must not cost the first's minutes
    for spec in args.splits:
        for template in parse_split_spec(spec)[1]:
            for lang in args.langs:
                require_input_file(template.replace(LANG_PLACEHOLDER, lang), what=f"{lang} sentences")
    for spec in args.splits:
        split, templates = parse_split_spec(spec)
        outputs = {lang: split_path(args.out_dir, split, lang) for lang in args.langs}
        with atomic_output(outputs[args.langs[0]]) as first, atomic_output(outputs[args.langs[1]]) as second:
            total = 0
            for template in templates:
                counts = {}
                for lang, out in zip(args.langs, (first, second)):
                    path = template.replace(LANG_PLACEHOLDER, lang)
                    counts[path] = 0
                    for sentence in sentences_of(path):
                        out.write(sentence + "\n")
                        counts[path] += 1
                total += require_same_length(counts, unit="sentences")
        say(f"[extract] {split}: {total:,} sentence pairs from {len(templates)} file pair(s)")


# --- tokenize -----------------------------------------------------------------------------------------------------


def report_empty_lines(split, paths):
    """Says which pairs of ``split`` have an empty side: an evaluation split keeps them, so that its references
    stay complete and aligned, and they deserve a look; training pairs like these are dropped later."""
    empty = sorted(set().union(*(empty_line_numbers(read_lines(path)) for path in paths)))
    if empty:
        shown = ", ".join(str(number) for number in empty[:SHOWN_EMPTY_LINES])
        more = ", ..." if len(empty) > SHOWN_EMPTY_LINES else ""
        fate = (
            "the clean step drops training pairs like these" if split == "train" else
            "kept in place so that the references stay aligned; fairseq reads an empty line as a sentence of just </s>"
        )
        where = f"line{'s' if len(empty) > 1 else ''} {shown}{more}"
        say(f"[tokenize] {split}: {len(empty):,} pair(s) with an empty side ({where}): {fate}")
    return empty


def tokenize(args):
    options = dict(
        lowercase=args.lowercase,
        aggressive_dash_splits=args.aggressive_dash_splits,
        normalize_punctuation=args.normalize_punctuation,
        remove_non_printing=args.remove_non_printing,
        straight_apostrophes=args.straight_apostrophes,
    )
    require_output_folder(args.out_dir, "--out-dir")
    for split in args.splits:
        inputs = {lang: split_path(args.in_dir, split, lang) for lang in args.langs}
        # A full pass first: a bad byte or a missing line is reported before minutes of tokenization, not after.
        lines = require_same_length({path: count_corpus_lines(path) for path in inputs.values()})
        for lang, path in inputs.items():
            output = split_path(args.out_dir, split, lang)
            progress = ProgressCounter(os.path.basename(output), args.progress_every)
            with atomic_output(output) as out:
                sentences = read_lines(path)
                for tokens in preprocess_lines(sentences, dict(options, lang=lang), args.workers, lines, progress):
                    out.write(tokens + "\n")
            progress.finish()
        report_empty_lines(split, [split_path(args.out_dir, split, lang) for lang in args.langs])


# --- clean --------------------------------------------------------------------------------------------------------


def clean(args):
    source_lang, target_lang = args.langs
    folders = [(args.in_dir, args.out_dir)] + [tuple(pair) for pair in args.companion]
    inputs = [split_path(folder, args.split, lang) for folder, _ in folders for lang in args.langs]
    outputs = [split_path(folder, args.split, lang) for _, folder in folders for lang in args.langs]
    for _, folder in folders:
        require_output_folder(folder, "--out-dir" if folder == args.out_dir else "--companion")
    # Companion files (the untokenized text) are filtered by the same decisions, so they must align too.
    require_same_length({path: count_lines(path) for path in inputs})
    length_filter = LengthFilter(args.min_tokens, args.max_tokens, args.ratio)
    with ExitStack() as files:
        outs = [files.enter_context(atomic_output(path)) for path in outputs]
        for row in zip(*(read_lines(path) for path in inputs)):
            if length_filter.keep(row[0], row[1]):
                for out, line in zip(outs, row):
                    out.write(line + "\n")
        if length_filter.counts[KEPT] == 0:
            limits = f"{args.min_tokens} to {args.max_tokens or 'any number of'} tokens, ratio {args.ratio or 'any'}"
            # named as the user gave them: the files in --in-dir are intermediate work
            source, target = args.read_from or inputs[:2]
            raise CorpusError(
                f"no pair of {source} and {target} passes the filter ({limits}): give text with words on both"
                f" sides, or other limits"
            )
    say(f"[clean] {args.split}.{source_lang}-{target_lang}: {length_filter.summary()}")


# --- sentencepiece ------------------------------------------------------------------------------------------------


def bpe_train(args):
    require_writable_output(f"{args.model_prefix}.model", "--model-prefix", make_folder=True)
    pieces = train_joint_bpe(
        args.inputs, args.model_prefix, args.vocab_size, args.character_coverage, args.input_sentence_size,
        args.threads,
    )
    reached = "" if pieces == args.vocab_size else f" (asked for {args.vocab_size:,}: the text has no more merges)"
    say(f"[bpe-train] {args.model_prefix}.model: {pieces:,} pieces{reached}")


def bpe_encode(args):
    require_input_file(args.model, "--model", "the sentencepiece model (SPM.model)")
    require_output_folder(args.out_dir, "--out-dir")
    for split in args.splits:
        inputs = {lang: split_path(args.in_dir, split, lang) for lang in args.langs}
        lines = require_same_length({path: count_lines(path) for path in inputs.values()})
        for lang, path in inputs.items():
            output = split_path(args.out_dir, split, lang)
            with atomic_output(output) as out:
                for pieces in encode_as_pieces(args.model, read_lines(path), args.threads):
                    out.write(pieces + "\n")
        say(f"[bpe-encode] {split}: {lines:,} lines per side")


# --- metadata -----------------------------------------------------------------------------------------------------


def write_metadata(args):
    moses = corpus_metadata.MosesOptions(
        lowercase=args.lowercase,
        aggressive_dash_splits=args.aggressive_dash_splits,
        normalize_punctuation=args.normalize_punctuation,
        remove_non_printing=args.remove_non_printing,
    )
    eval_moses = dataclasses.replace(moses, straight_apostrophes=args.eval_straight_apostrophes)
    require_output_folder(args.out_dir, "--out-dir")
    metadata = corpus_metadata.CorpusMetadata(
        src=args.langs[0], tgt=args.langs[1], moses=moses, eval_moses=eval_moses, bpe_model="spm.model",
        bpe_size=args.bpe_size, splits=tuple(args.splits), name=args.name,
        # Lowercased references leave no case to score: tokenized BLEU on them is the lowercase variant.
        tokenized_bleu="lowercase" if args.lowercase else None,
        cleaning=dict(min_tokens=args.min_tokens, max_tokens=args.max_tokens, ratio=args.ratio),
    )
    corpus_metadata.write(args.out_dir, metadata)


# --- command line -------------------------------------------------------------------------------------------------


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m macaron_tools.data.prepare_corpus", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    default_workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def command(name, function, help, langs=True):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(function=function)
        if langs:
            sub.add_argument("--langs", nargs=2, metavar=("SRC", "TGT"), required=True, help="the two languages")
        return sub

    sub = command("extract", extract, "write SPLIT.LANG text files from raw, .gz, .xml/.sgm or train.tags files")
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("splits", nargs="+", metavar="SPLIT=FILE[,FILE...]", help="files named with {lang}")

    sub = command("tokenize", tokenize, "Moses-tokenize SPLIT.LANG files")
    sub.add_argument("--in-dir", required=True)
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--splits", nargs="+", required=True)
    sub.add_argument("--lowercase", action="store_true")
    sub.add_argument(
        "--aggressive-dash-splits", action="store_true", help="tokenizer.perl -a: rot-blau -> rot @-@ blau"
    )
    sub.add_argument("--normalize-punctuation", action="store_true", help="normalize-punctuation.perl first")
    sub.add_argument("--remove-non-printing", action="store_true", help="remove-non-printing-char.perl first")
    sub.add_argument("--straight-apostrophes", action="store_true", help="write ’ as ' first")
    sub.add_argument("--workers", type=positive_int, default=default_workers)
    sub.add_argument("--progress-every", type=positive_int, default=100000, help="lines between progress lines")

    sub = command("clean", clean, "drop training pairs by length and length ratio (clean-corpus-n.perl)")
    sub.add_argument("--in-dir", required=True)
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--split", default="train")
    sub.add_argument("--min-tokens", type=positive_int, default=1)
    sub.add_argument("--max-tokens", type=positive_int, default=None)
    sub.add_argument("--ratio", type=float, default=None)
    sub.add_argument(
        "--companion", nargs=2, action="append", default=[], metavar=("IN_DIR", "OUT_DIR"),
        help="also filter IN_DIR's files of the split by the same decisions (e.g. the untokenized text)",
    )
    sub.add_argument("--read-from", nargs=2, metavar=("SRC_FILE", "TGT_FILE"),
                     help="the files the split was read from, for messages (default: the --in-dir files)")

    sub = command("bpe-train", bpe_train, "learn a joint sentencepiece BPE model", langs=False)
    sub.add_argument("--model-prefix", required=True)
    sub.add_argument("--vocab-size", type=positive_int, required=True)
    sub.add_argument("--character-coverage", type=float, default=1.0)
    sub.add_argument(
        "--input-sentence-size", type=int, default=0, help="learn from this many sampled lines (0: all)"
    )
    sub.add_argument("--threads", type=positive_int, default=default_workers)
    sub.add_argument("inputs", nargs="+")

    sub = command("bpe-encode", bpe_encode, "write SPLIT.LANG files as sentencepiece pieces")
    sub.add_argument("--model", required=True)
    sub.add_argument("--in-dir", required=True)
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--splits", nargs="+", required=True)
    sub.add_argument("--threads", type=positive_int, default=default_workers)

    sub = command("metadata", write_metadata, f"write {corpus_metadata.FILE_NAME}: the facts of a prepared folder")
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--name", required=True, help="the folder's name, e.g. multi30k.de-en")
    sub.add_argument("--splits", nargs="+", required=True, help="train first")
    sub.add_argument("--bpe-size", type=positive_int, required=True)
    for option in ("--lowercase", "--aggressive-dash-splits", "--normalize-punctuation", "--remove-non-printing"):
        sub.add_argument(option, action="store_true", help="as tokenize's")
    sub.add_argument("--eval-straight-apostrophes", action="store_true", help="tokenize's, on the evaluation splits")
    sub.add_argument("--min-tokens", type=positive_int, default=1)
    sub.add_argument("--max-tokens", type=positive_int, default=None)
    sub.add_argument("--ratio", type=float, default=None)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.function(args)
    except MacaronFairseqError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was left under a finished file's name", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    run_command(main)
