"""The steps of scripts/prepare-lm.sh: one language's text read, tokenized and cleaned, and the folder's facts."""

import gzip
import json

import pytest

from macaron_tools.data import lm_corpus


def test_text_tokenizes_every_split_and_filters_only_train(tmp_path, capsys):
    (tmp_path / "train.txt").write_text("A dog runs.\n\n" + "word " * 20 + "\nTwo cats, sleeping.\n")
    (tmp_path / "valid.txt.gz").write_bytes(gzip.compress("A cat.\n\nDon't stop.\n".encode()))
    assert lm_corpus.main(["text", "--lang", "en", "--out-dir", str(tmp_path / "tok"), "--max-tokens", "10",
                           "--workers", "1", f"train={tmp_path}/train.txt", f"valid={tmp_path}/valid.txt.gz"]) == 0
    assert (tmp_path / "tok" / "train.en").read_text() == "A dog runs .\nTwo cats , sleeping .\n"
    assert (tmp_path / "tok" / "valid.en").read_text() == "A cat .\n\nDon 't stop .\n"  # every line kept
    err = capsys.readouterr().err
    assert "[clean] train: kept 2 of 4 lines (dropped: 1 empty side, 1 too long)" in err
    assert "valid: 1 pair(s) with an empty side (line 2)" in err


def test_text_refuses_a_train_split_with_nothing_left(tmp_path, capsys):
    (tmp_path / "train.txt").write_text("\n \n")
    assert lm_corpus.main(["text", "--lang", "en", "--out-dir", str(tmp_path), "--workers", "1",
                           f"train={tmp_path}/train.txt"]) == 1
    assert "is left after cleaning (kept 0 of 2 pairs (dropped: 2 empty side))" in capsys.readouterr().err
    assert not (tmp_path / "train.en").exists()


def test_metadata_round_trip_and_facts(tmp_path, capsys):
    assert lm_corpus.main(["metadata", "--out-dir", str(tmp_path), "--lang", "en", "--splits", "train", "valid",
                           "--bpe-size", "0", "--tokenized", "--max-tokens", "50"]) == 0
    corpus = lm_corpus.read(tmp_path)
    assert corpus == lm_corpus.LanguageModelCorpus.from_json(json.loads((tmp_path / "lm_corpus.json").read_text()))
    assert (corpus.moses, corpus.bpe_model, corpus.splits) == (None, None, ("train", "valid"))
    assert lm_corpus.main(["facts", str(tmp_path), "--get", "splits", "--get", "bpe_size"]) == 0
    assert capsys.readouterr().out == "train valid\n0\n"


@pytest.mark.parametrize("spec", ["train", "=x", "train="])
def test_a_split_must_name_its_file(spec):
    with pytest.raises(lm_corpus.CorpusError, match="is not SPLIT=FILE"):
        lm_corpus.parse_split_file(spec)


@pytest.mark.parametrize("tokenized", [False, True])
def test_text_refuses_a_nul_byte_naming_the_file_and_line(tmp_path, capsys, tokenized):
    # Moses would glue "Der" and "Mann"; text given tokenized would keep a NUL that no reader of it expects
    (tmp_path / "train.txt").write_text("Ein Satz.\n")
    (tmp_path / "valid.txt").write_bytes("Ein Hund.\nDer\0Mann schläft.\n".encode())
    assert lm_corpus.main(["text", "--lang", "de", "--out-dir", str(tmp_path / "tok"), "--workers", "1",
                           *(["--tokenized"] if tokenized else []), f"train={tmp_path}/train.txt",
                           f"valid={tmp_path}/valid.txt"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}/valid.txt line 2 holds a NUL byte (character 4), which tokenization "
                          f"would drop") and err.count("\n") == 1, err
    assert not (tmp_path / "tok").exists() or list((tmp_path / "tok").iterdir()) == []  # not even train was written


def test_text_checks_every_file_before_the_first_is_tokenized(tmp_path, capsys):
    (tmp_path / "train.txt").write_text("A dog runs.\n")
    assert lm_corpus.main(["text", "--lang", "en", "--out-dir", str(tmp_path / "tok"), "--workers", "1",
                           f"train={tmp_path}/train.txt", f"valid={tmp_path}/valid.txt"]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path}/valid.txt does not exist: check the path\n"
    assert not (tmp_path / "tok").exists()
