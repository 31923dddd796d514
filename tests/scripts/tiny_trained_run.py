"""A tiny corpus in the data scripts' layout, and a tiny Macaron model trained on it for a few updates.

For the tests of scripts/evaluate.sh (about a minute on 2 CPU cores, so their fixtures build it once). The layout
is what the data scripts write under data/data-bin/<name>/: fairseq-preprocess --joined-dictionary output for
train, valid, test and test1, spm.model, and refs/<split>.detok.<lang> and refs/<split>.tok.<lang>
(Moses-tokenized, lowercased like IWSLT's) for the evaluation splits.
"""

import gzip
import os

import sentencepiece
from conftest import BIN_DIR, PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command, run
from sacremoses import MosesTokenizer

from macaron_tools.data import toy_corpus

SIZES = {"train": 400, "valid": 16, "test": 13, "test1": 11}  # 13 and 11: not multiples of fairseq's batch multiple 8
SRC, TGT = "de", "en"
TOOL_ENV = {
    "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",  # fairseq-generate and python of this environment
    "OMP_NUM_THREADS": "1",  # the cores are shared
}


def write_text(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def build_tiny_data(work):
    """Writes the tiny corpus under ``work`` (a Path); returns its binarized folder."""
    data = work / "data-bin" / "tiny.de-en"
    (data / "refs").mkdir(parents=True)
    toy_corpus.write_corpus(work / "raw", SIZES, seed=1)

    for split in SIZES:
        for lang in (SRC, TGT):
            with gzip.open(work / "raw" / f"{toy_corpus.SPLITS[split]}.{lang}.gz", "rt", encoding="utf-8") as f:
                raw = f.read().splitlines()
            tokenizer = MosesTokenizer(lang=lang)
            tokenized = [tokenizer.tokenize(line, escape=False, return_str=True).lower() for line in raw]
            write_text(work / f"{split}.tok.{lang}", tokenized)
            if split in ("test", "test1"):
                write_text(data / "refs" / f"{split}.detok.{lang}", raw)
                write_text(data / "refs" / f"{split}.tok.{lang}", tokenized)

    sentencepiece.SentencePieceTrainer.train(
        input=f"{work}/train.tok.{SRC},{work}/train.tok.{TGT}", model_prefix=str(data / "spm"),
        vocab_size=100, hard_vocab_limit=False, character_coverage=1.0, minloglevel=2,
    )
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(data / "spm.model"))
    for split in SIZES:
        for lang in (SRC, TGT):
            lines = (work / f"{split}.tok.{lang}").read_text(encoding="utf-8").splitlines()
            write_text(work / f"{split}.spm.{lang}", [" ".join(pieces.encode(line, out_type=str)) for line in lines])

    run(fairseq_command(
        "preprocess", "--source-lang", SRC, "--target-lang", TGT, "--joined-dictionary", "--workers", 1,
        "--trainpref", work / "train.spm", "--validpref", work / "valid.spm",
        "--testpref", f"{work}/test.spm,{work}/test1.spm", "--destdir", data,
    ), env=TOOL_ENV)
    return data


def train_tiny_model(data, save_dir):
    """A 30-update run into ``save_dir``: update checkpoints every 10 updates, epoch checkpoints, checkpoint_best."""
    run(fairseq_command(
        "train", data, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32,
        "--optimizer", "adam", "--lr", 5e-3, "--lr-scheduler", "inverse_sqrt", "--warmup-updates", 10,
        "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", 0.1, "--max-tokens", 1000,
        "--max-update", 30, "--save-interval-updates", 10, "--save-dir", save_dir,
        "--cpu", "--seed", 1, "--num-workers", 0, "--no-progress-bar", "--log-interval", 100,
    ), env=TOOL_ENV)
    return save_dir
