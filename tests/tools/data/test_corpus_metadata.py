"""macaron_tools.data.corpus_metadata: the typed record of a prepared folder, its file, its command line."""

import argparse
import json
import subprocess
import sys

import pytest
import torch

from macaron_tools.data import corpus_metadata
from macaron_tools.data.corpus_metadata import CorpusMetadata, MosesOptions

METADATA = CorpusMetadata(
    src="fr", tgt="es", moses=MosesOptions(lowercase=True), eval_moses=MosesOptions(lowercase=True,
    straight_apostrophes=True), bpe_model="spm.model", bpe_size=4000, splits=("train", "valid", "test"),
    tokenized_bleu="lowercase", name="corpus.fr-es", cleaning={"min_tokens": 1, "max_tokens": 80, "ratio": 1.5},
)


def main(*args, capsys):
    status = corpus_metadata.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_the_record_round_trips_through_its_file(tmp_path):
    corpus_metadata.write(tmp_path, METADATA)
    assert corpus_metadata.read(tmp_path) == METADATA
    record = json.loads((tmp_path / "corpus.json").read_text())
    assert record["format"] == 1 and record["moses"]["lowercase"] is True
    assert record["splits"]["train"] == {}
    assert record["splits"]["test"]["es"] == {"detok": "refs/test.detok.es", "tok": "refs/test.tok.es"}
    assert record["splits"]["valid"]["fr"]["tok"] == "refs/valid.tok.fr"
    assert METADATA.evaluation_splits == ("valid", "test")
    assert not list(tmp_path.glob("*.partial"))


def test_fields_are_printed_one_a_line(tmp_path, capsys):
    corpus_metadata.write(tmp_path, METADATA)
    status, lines, _ = main(tmp_path, "--get", "src", "--get", "tgt", "--get", "eval_moses", "--get", "splits",
                            "--get", "tokenized_bleu", "--get", "has_metadata", capsys=capsys)
    assert status == 0
    assert lines == ["fr", "es", "lowercase straight_apostrophes", "train valid test", "lowercase", "yes"]


def test_data_without_metadata_has_the_direction_of_its_file_names(tmp_path, capsys):
    for name in ("train.fr-es.fr.idx", "train.fr-es.es.idx", "test.fr-es.fr.idx", "dict.fr.txt"):
        (tmp_path / name).write_text("")
    status, lines, _ = main(tmp_path, "--get", "src", "--get", "tgt", "--get", "moses", "--get", "has_metadata",
                            capsys=capsys)
    assert (status, lines) == (0, ["fr", "es", "", ""])


@pytest.mark.parametrize("make, message", [
    (lambda path: None, "does not exist"),
    (lambda path: path.write_text("x"), "is a file"),
    (lambda path: path.mkdir(), "has no corpus.json and no fairseq-preprocess files"),
    (lambda path: (path.mkdir(), (path / "corpus.json").write_text("{")), "prepare the data again"),
])
def test_unusable_folders_are_one_line_errors(tmp_path, capsys, make, message):
    make(tmp_path / "data")
    status, lines, err = main(tmp_path / "data", "--get", "src", capsys=capsys)
    assert status == 1 and lines == [] and err.count("\n") == 1 and err.startswith("error: ") and message in err


def fake_checkpoint(path, **task):
    torch.save({"cfg": {"task": task}, "model": {"w": torch.zeros(2)}}, path)
    return path


def test_a_checkpoint_of_another_direction_is_refused(tmp_path, capsys):
    corpus_metadata.write(tmp_path, METADATA)
    same = fake_checkpoint(tmp_path / "same.pt", source_lang="fr", target_lang="es")
    other = fake_checkpoint(tmp_path / "other.pt", source_lang="es", target_lang="fr")
    assert main(tmp_path, "--get", "src", "--checkpoint", same, capsys=capsys)[:2] == (0, ["fr"])
    status, lines, err = main(tmp_path, "--get", "src", "--checkpoint", other, capsys=capsys)
    assert (status, lines) == (1, [])
    assert err == (f"error: {other} translates es->fr but {tmp_path} is fr->es data: pass the --data-dir the model "
                   f"was trained on, or a model of that direction\n")


def test_older_checkpoints_give_their_direction_in_args_and_unreadable_ones_none(tmp_path):
    old = tmp_path / "old.pt"
    torch.save({"args": argparse.Namespace(source_lang="de", target_lang="en"), "model": {}}, old)
    assert corpus_metadata.checkpoint_direction(old) == ("de", "en")
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    assert corpus_metadata.checkpoint_direction(tmp_path / "text.pt") is None  # fairseq's loading says why
    assert corpus_metadata.checkpoint_direction(fake_checkpoint(tmp_path / "no-langs.pt")) is None


def test_reading_fields_imports_neither_torch_nor_fairseq(tmp_path):
    corpus_metadata.write(tmp_path, METADATA)
    code = ("import sys; from macaron_tools.data import corpus_metadata; "
            f"corpus_metadata.main([{str(tmp_path)!r}, '--get', 'src']); "
            "print(sorted(m for m in ('torch', 'fairseq') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.splitlines() == ["fr", "[]"]
