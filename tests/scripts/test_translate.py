"""scripts/translate.sh: a tiny trained model translates standard input line by line, as each line arrives, and
keeps serving through empty lines, lines too long for the model and characters its data never had."""

import gzip
import os
import queue
import re
import subprocess
import threading

import pytest
import sentencepiece

from conftest import PLUGIN_DIR, REPO_ROOT, TINY_MODEL_FLAGS, fairseq_command, run
from macaron_fairseq.data import corpus_metadata, toy_corpus
from macaron_fairseq.data.moses_tokenize import MosesPreprocessor

TRANSLATE_SH = REPO_ROOT / "scripts" / "translate.sh"
ENV = {"OMP_NUM_THREADS": "1"}
MAX_POSITIONS = 64
LONG_LINE = " ".join(["Der kleine Hund läuft heute langsam im Park."] * 12)  # about 130 pieces


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The toy corpus prepared as scripts/prepare-multi30k.sh prepares Multi30k: cased Moses tokens, a joint
    sentencepiece model (spm.model, beside the binarized data), fairseq-preprocess with a joined dictionary, and
    corpus.json."""
    work = tmp_path_factory.mktemp("translate-data")
    toy_corpus.write_corpus(work / "raw", {"train": 400, "valid": 16}, seed=1)
    for split in ("train", "valid"):
        for lang in ("de", "en"):
            with gzip.open(work / "raw" / f"{toy_corpus.SPLITS[split]}.{lang}.gz", "rt", encoding="utf-8") as f:
                tokenize = MosesPreprocessor(lang)
                (work / f"{split}.tok.{lang}").write_text("".join(tokenize(line) + "\n" for line in f))
    data = work / "data-bin"
    data.mkdir()
    sentencepiece.SentencePieceTrainer.train(
        input=f"{work}/train.tok.de,{work}/train.tok.en", model_prefix=str(data / "spm"), vocab_size=100,
        hard_vocab_limit=False, character_coverage=1.0, minloglevel=2,
    )
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(data / "spm.model"))
    for split in ("train", "valid"):
        for lang in ("de", "en"):
            lines = (work / f"{split}.tok.{lang}").read_text().splitlines()
            (work / f"{split}.spm.{lang}").write_text("".join(" ".join(pieces.encode(line, out_type=str)) + "\n"
                                                              for line in lines))
    run(fairseq_command(
        "preprocess", "--source-lang", "de", "--target-lang", "en", "--joined-dictionary", "--workers", 1,
        "--trainpref", work / "train.spm", "--validpref", work / "valid.spm", "--destdir", data,
    ), env=ENV)
    # The facts translate.sh reads: the direction, and the Moses options (here prepare-multi30k.sh's: none).
    corpus_metadata.write(data, corpus_metadata.CorpusMetadata(
        src="de", tgt="en", moses=corpus_metadata.MosesOptions(), eval_moses=corpus_metadata.MosesOptions(),
        bpe_model="spm.model", bpe_size=100, splits=("train", "valid"), name="toy.de-en",
    ))
    return data


@pytest.fixture(scope="module")
def checkpoint(data_dir, tmp_path_factory):
    """A tiny Macaron model of 20 updates, with room for 64 positions."""
    save_dir = tmp_path_factory.mktemp("translate-model")
    run(fairseq_command(
        "train", data_dir, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32,
        "--max-source-positions", MAX_POSITIONS, "--max-target-positions", MAX_POSITIONS,
        "--optimizer", "adam", "--lr", 5e-3, "--criterion", "label_smoothed_cross_entropy",
        "--max-tokens", 1000, "--max-update", 20, "--save-dir", save_dir, "--no-epoch-checkpoints",
        "--cpu", "--seed", 1, "--num-workers", 0, "--no-progress-bar", "--disable-validation",
    ), env=ENV)
    return save_dir / "checkpoint_last.pt"


def translate_command(data_dir, checkpoint):
    return ["bash", TRANSLATE_SH, "--setting", "multi30k", "--checkpoint", checkpoint, "--data-dir", data_dir,
            "--cpu", "--", "--beam", 2]


def output_lines(output, kind):
    """{input line number: text} of fairseq-interactive's KIND-N lines (S, H, D, P)."""
    return {int(n): text for n, text in re.findall(rf"^{kind}-(\d+)\t(.*)$", output, flags=re.MULTILINE)}


def test_odd_lines_are_translated_or_reported_and_serving_goes_on(data_dir, checkpoint):
    lines = ["Der Hund läuft im Park.", "", LONG_LINE, "Der Hund 🐙 schläft am Strand von 東京.", "Die Katze singt."]
    result = subprocess.run(
        [str(part) for part in translate_command(data_dir, checkpoint)], env={**os.environ, **ENV},
        input="".join(line + "\n" for line in lines), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sources, translations = output_lines(result.stdout, "S"), output_lines(result.stdout, "D")
    # every line but the one too long for the model has a translation, in input order
    assert sorted(translations) == [0, 1, 3, 4]
    assert all(re.fullmatch(r"-?\d+\.\d+\t.*", text) for text in translations.values())
    # Moses tokenized the sentence before sentencepiece: its full stop is a token of its own
    assert sources[0].split()[-1] == "▁."
    assert sources[1] == ""
    # the emoji and the Japanese are no pieces of this data's model: unknown, among known ones
    assert "<unk>" in sources[3].split() and sources[3].split()[-1] == "▁."
    assert "samples have invalid sizes and will be skipped" in result.stderr
    assert f"max_positions=({MAX_POSITIONS}, {MAX_POSITIONS})" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_line_is_translated_as_it_arrives(data_dir, checkpoint):
    process = subprocess.Popen(
        [str(part) for part in translate_command(data_dir, checkpoint)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **ENV},
    )
    received = queue.Queue()
    threading.Thread(target=lambda: [received.put(line) for line in process.stdout], daemon=True).start()

    def next_translation():
        while True:
            line = received.get(timeout=240)  # a pipeline that held lines back would never answer
            if line.startswith("D-"):
                return line

    try:
        for number, sentence in enumerate(["Der Hund läuft im Park.", "Die Katze singt am Fluss."]):
            process.stdin.write(sentence + "\n")
            process.stdin.flush()  # and stdin stays open: the answer must come before the end of input
            assert next_translation().startswith(f"D-{number}\t")
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_missing_checkpoint_is_one_line(data_dir, tmp_path):
    result = run(translate_command(data_dir, tmp_path / "checkpoint_best.pt"), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: checkpoint {tmp_path / 'checkpoint_best.pt'} does not exist: " \
                                    f"check the path or train the model first"


def test_data_without_corpus_json_is_refused_in_one_line(data_dir, checkpoint, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in data_dir.iterdir():
        if path.name != "corpus.json":
            (bare / path.name).symlink_to(path)
    result = run(translate_command(bare, checkpoint), check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: {bare} has no corpus.json, so its preprocessing is unknown: prepare it again "
                             f"with scripts/prepare-*.sh\n")
