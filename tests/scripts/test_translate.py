"""scripts/translate.sh: a tiny trained model translates standard input, one plain translation per line in input
order (or fairseq-interactive's lines), in batches from a pipe and as each line is typed at a terminal, and keeps
serving through empty lines, lines too long for the model, characters its data never had and lines that are not
UTF-8; the lines it could not translate are named in one error line at the end, and the exit status is 1."""

import gzip
import os
import pty
import queue
import re
import subprocess
import threading

import pytest
import sentencepiece
from sacremoses import MosesDetokenizer

from conftest import PLUGIN_DIR, REPO_ROOT, TINY_MODEL_FLAGS, fairseq_command, run
from macaron_tools.data import corpus_metadata, toy_corpus
from macaron_tools.data.moses_tokenize import MosesPreprocessor

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


def translate_command(data_dir, checkpoint, *options):
    return [str(part) for part in ["bash", TRANSLATE_SH, "--setting", "multi30k", "--checkpoint", checkpoint,
                                   "--data-dir", data_dir, "--cpu", *options, "--", "--beam", 2]]


def output_lines(output, kind):
    """{input line number: text} of fairseq-interactive's KIND-N lines (S, H, D, P)."""
    return {int(n): text for n, text in re.findall(rf"^{kind}-(\d+)\t(.*)$", output, flags=re.MULTILINE)}


# An empty line, one too long for the model, characters the data never had, binary bytes and a Latin-1 line.
ODD_LINES = [
    "Der Hund läuft im Park.".encode(), b"", LONG_LINE.encode(), "Der Hund 🐙 schläft am Strand von 東京.".encode(),
    b"\xff\xfe\x00\x01binary", "Ein Mann im Café.".encode("latin-1"), "Die Katze singt.".encode(),
]


@pytest.fixture(scope="module")
def odd_lines_translated(data_dir, checkpoint):
    """ODD_LINES from a pipe, translated as plain text and with --fairseq-output."""
    results = {}
    for options in ((), ("--fairseq-output",)):
        results[options] = subprocess.run(
            translate_command(data_dir, checkpoint, *options), env={**os.environ, **ENV},
            input=b"".join(line + b"\n" for line in ODD_LINES), capture_output=True, timeout=300,
        )
        assert results[options].returncode == 1, results[options].stderr[-3000:]
    return results[()], results[("--fairseq-output",)]


UNTRANSLATED = (
    "error: 3 of 7 input lines not translated, their output lines left empty: line 3 is longer than the model takes "
    "(fairseq's max_positions above): split it; lines 5 (byte 0xff at byte 1), 6 (byte 0xe9 at byte 16) are not "
    "UTF-8 text: convert the input, e.g. iconv -f ISO-8859-1 -t UTF-8\n"
)


def test_odd_lines_are_translated_or_reported_and_serving_goes_on(odd_lines_translated):
    _, result = odd_lines_translated
    output, errors = result.stdout.decode(), result.stderr.decode()
    sources, translations = output_lines(output, "S"), output_lines(output, "D")
    # every line but the one too long for the model and the two that are not UTF-8 has a translation, numbered
    # by input line
    assert sorted(translations) == [0, 1, 3, 6]
    assert all(re.fullmatch(r"-?\d+\.\d+\t.*", text) for text in translations.values())
    # Moses tokenized the sentence before sentencepiece: its full stop is a token of its own
    assert sources[0].split()[-1] == "▁."
    assert sources[1] == ""
    # the emoji and the Japanese are no pieces of this data's model: unknown, among known ones
    assert "<unk>" in sources[3].split() and sources[3].split()[-1] == "▁."
    assert "samples have invalid sizes and will be skipped" in errors
    assert f"max_positions=({MAX_POSITIONS}, {MAX_POSITIONS})" in errors
    assert errors.endswith(UNTRANSLATED)  # once, the last line
    assert errors.count("error:") == 1
    assert "Traceback" not in errors


def test_by_default_each_line_gets_its_plain_translation_in_input_order(odd_lines_translated):
    plain, fairseq_output = odd_lines_translated
    translations = output_lines(fairseq_output.stdout.decode(), "D")
    detokenize = MosesDetokenizer(lang="en").detokenize
    expected = [detokenize(translations[n].split("\t", 1)[1].split()) if n in translations else ""
                for n in range(len(ODD_LINES))]
    assert plain.stdout.decode().split("\n") == expected + [""]
    errors = plain.stderr.decode()
    assert errors.endswith(UNTRANSLATED) and errors.count("error:") == 1
    # input from a pipe is translated in batches
    assert "Sentence buffer size: 64" in errors
    assert "Traceback" not in errors


def test_a_terminal_is_answered_line_by_line(data_dir, checkpoint):
    terminal, typed = pty.openpty()  # the command's standard input is a terminal's end; the test types at the other
    process = subprocess.Popen(translate_command(data_dir, checkpoint), stdin=typed, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ, **ENV})
    os.close(typed)
    received = queue.Queue()
    threading.Thread(target=lambda: [received.put(line) for line in process.stdout], daemon=True).start()
    try:
        for sentence in ["Der Hund läuft im Park.", "Die Katze singt am Fluss."]:
            os.write(terminal, (sentence + "\n").encode())
            # and the input stays open: the answer must come before the end of input
            assert received.get(timeout=240).endswith("\n")  # a pipeline that held lines back would never answer
        os.write(terminal, b"\x04")  # Ctrl-D: the end of input
        assert process.wait(timeout=60) == 0
        assert received.empty()  # one line out per line in
    finally:
        os.close(terminal)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_checkpoint_that_is_a_folder_is_one_line(data_dir, checkpoint):
    result = run(translate_command(data_dir, checkpoint.parent), check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: checkpoint {checkpoint.parent} is a folder: pass the .pt file of a trained "
                             f"model\n")


def test_a_data_dir_that_is_a_file_is_one_line(checkpoint, tmp_path):
    (tmp_path / "a-file").write_text("not data\n")
    result = run(translate_command(tmp_path / "a-file", checkpoint), check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: data directory {tmp_path / 'a-file'} is a file: pass the folder of the data "
                             f"the model was trained on\n")


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
