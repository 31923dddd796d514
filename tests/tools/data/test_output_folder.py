"""Which --out folders a preparation script may replace: its own earlier results, never a user's files."""

import subprocess
import sys

import pytest

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.data.output_folder import check_replaceable, foreign_files


def earlier_result(folder):
    """A folder as scripts/prepare-corpus.sh leaves it."""
    (folder / "refs").mkdir(parents=True)
    for name in (".prepared", "corpus.json", "spm.model", "spm.vocab", "dict.de.txt", "dict.en.txt",
                 "train.de-en.de.bin", "train.de-en.de.idx", "refs/test.detok.en", "refs/test.tok.en"):
        (folder / name).write_text("x")
    return folder


def test_an_absent_or_empty_folder_or_an_earlier_result_may_be_replaced(tmp_path):
    check_replaceable(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    check_replaceable(str(tmp_path / "empty"))
    check_replaceable(str(earlier_result(tmp_path / "result")), inputs=[str(tmp_path / "raw" / "train.de")])


def test_a_result_holding_a_users_file_is_refused_and_the_file_named(tmp_path):
    out = earlier_result(tmp_path / "result")
    (out / "thesis.txt").write_text("three years")
    (out / "refs" / "notes.md").write_text("mine")
    (out / "drafts").mkdir()
    assert foreign_files(str(out)) == ["drafts/", "refs/notes.md", "thesis.txt"]
    with pytest.raises(MacaronFairseqError, match=r"holds files that a prepared result does not "
                                                  r"\(drafts/, refs/notes.md, thesis.txt\).*give an empty or new"):
        check_replaceable(str(out))


def test_a_folder_of_binarized_data_the_scripts_did_not_make_is_refused(tmp_path):
    out = tmp_path / "data-bin"
    out.mkdir()
    (out / "train.de-en.de.bin").write_text("x")
    with pytest.raises(MacaronFairseqError, match=r"is not a result of the preparation scripts \(it has no "
                                                  r"\.prepared\)"):
        check_replaceable(str(out))


def test_more_than_three_foreign_files_are_counted(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for index in range(5):
        (out / f"chapter{index}.tex").write_text("x")
    with pytest.raises(MacaronFairseqError, match=r"chapter2\.tex and 2 more"):
        check_replaceable(str(out))


def test_an_out_holding_an_input_or_the_work_folder_is_refused_even_when_it_looks_like_a_result(tmp_path):
    out = earlier_result(tmp_path / "result")
    (out / "train.de.bin").write_text("an input that happens to match a result's pattern")
    with pytest.raises(MacaronFairseqError, match=r"holds the input .*train\.de\.bin"):
        check_replaceable(str(out), inputs=[str(out / "train.de.bin")])
    with pytest.raises(MacaronFairseqError, match=r"holds the input"):
        check_replaceable(str(tmp_path), inputs=[str(out / "train.de.bin")])
    with pytest.raises(MacaronFairseqError, match=r"holds the work folder"):
        check_replaceable(str(out), work_dir=str(out / "work"))


def test_the_command_prints_one_error_line_and_exits_1(tmp_path):
    (tmp_path / "thesis.txt").write_text("three years")
    result = subprocess.run([sys.executable, "-m", "macaron_tools.data.output_folder", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --out ")
    assert "thesis.txt" in result.stderr
    assert (tmp_path / "thesis.txt").read_text() == "three years"
