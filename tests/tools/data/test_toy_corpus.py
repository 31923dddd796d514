"""macaron_tools.data.toy_corpus as a command: a corpus in Multi30k's raw layout, and bad arguments refused in
one line before anything is written."""

import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from macaron_tools.data import toy_corpus


def toy_corpus_command(*args):
    return subprocess.run([sys.executable, "-m", "macaron_tools.data.toy_corpus", *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_writes_every_split(tmp_path):
    result = toy_corpus_command(tmp_path / "raw", "--train", 3, "--eval", 2)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "raw").iterdir()) == sorted(
        f"{stem}.{lang}.gz" for stem in toy_corpus.SPLITS.values() for lang in ("de", "en"))


@pytest.mark.parametrize("option, value, message", [
    ("--train", -5, "must be 1 or more, got -5"),
    ("--train", 0, "must be 1 or more, got 0"),
    ("--eval", "ten", "must be a whole number, got 'ten'"),
])
def test_a_count_below_one_is_refused(tmp_path, option, value, message):
    result = toy_corpus_command(tmp_path / "raw", option, value)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(f"argument {option}: {message}")
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize("inside", [False, True])
def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, inside):
    (tmp_path / "a-file").write_text("text\n")
    out = tmp_path / "a-file" / "raw" if inside else tmp_path / "a-file"
    result = toy_corpus_command(out)
    assert result.returncode == 1
    expected = (f"error: cannot write {out} (Not a directory): give a folder you can write\n" if inside
                else f"error: {out} is a file: give a folder to write the corpus into\n")
    assert result.stderr == expected
