"""How the tools read and write files: lines split at newline only, each bad file one error naming it, and writes
that leave the previous file or the whole new one, never a part."""

import errno
import gzip
import json
import os
import tempfile

import pytest

from macaron_tools.files import (
    InputFileError,
    OutputFileError,
    TextFileError,
    atomic_output,
    atomic_path,
    count_lines,
    read_lines,
    require_input_file,
    require_output_folder,
    require_writable_output,
    write_json,
)


def test_lines_split_at_newline_only(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffeins\r\nzwei\u2028halb\x1cdrei\nvier".encode("utf-8"))
    # The byte order mark and a Windows line end go; U+2028 and \x1c are inside a sentence, not line breaks.
    assert list(read_lines(path)) == ["eins", "zwei\u2028halb\x1cdrei", "vier"]
    assert count_lines(path) == 3


def test_gzip_files_are_read_and_truncated_ones_refused(tmp_path):
    path = tmp_path / "a.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("ein Satz\n" * 1000)
    assert list(read_lines(str(path))) == ["ein Satz"] * 1000
    (tmp_path / "cut.gz").write_bytes(path.read_bytes()[:-20])
    with pytest.raises(TextFileError, match=r"cut.gz is not a complete gzip file .*copy it again"):
        list(read_lines(str(tmp_path / "cut.gz")))


def test_invalid_utf8_and_missing_files_are_named(tmp_path):
    path = tmp_path / "latin1.de"
    path.write_bytes("gut\nMädchen\n".encode("latin-1"))
    with pytest.raises(TextFileError, match=r"latin1.de line 2 is not valid UTF-8 .*iconv"):
        list(read_lines(str(path)))
    with pytest.raises(TextFileError, match=r"absent.en does not exist: check the path"):
        list(read_lines(tmp_path / "absent.en"))


def test_failed_block_leaves_no_output(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_output(str(path)) as f:
            f.write("half\n")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path):
    path = tmp_path / "results" / "report.json"
    write_json(path, {"bleu": 30.5, "note": "größer"})
    assert path.read_text(encoding="utf-8") == '{\n  "bleu": 30.5,\n  "note": "größer"\n}\n'
    with pytest.raises(TypeError):
        write_json(path, {"bleu": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"bleu": 30.5, "note": "größer"}
    assert os.listdir(path.parent) == ["report.json"]


def test_the_temporary_name_keeps_the_suffix_a_writer_reads(tmp_path):
    with atomic_path(tmp_path / "plot.png", suffix=".png") as temporary:
        assert temporary.endswith(".png") and os.path.dirname(temporary) == str(tmp_path)
        with open(temporary, "wb") as f:
            f.write(b"\x89PNG")
        assert not (tmp_path / "plot.png").exists()
    assert (tmp_path / "plot.png").read_bytes() == b"\x89PNG" and os.listdir(tmp_path) == ["plot.png"]


def fill_the_disk_under(path):
    """Makes the temporary file that :func:`atomic_path` writes ``path`` through (in this process) a link to
    /dev/full, where every write fails with ENOSPC, as on a full disk."""
    os.symlink("/dev/full", f"{path}.partial{os.getpid()}")


def test_a_full_disk_is_one_error_naming_the_file_and_keeps_the_previous_one(tmp_path):
    path = tmp_path / "report.json"
    write_json(path, {"bleu": 30.5})
    fill_the_disk_under(path)
    with pytest.raises(OutputFileError, match=rf"^cannot write {path} \(No space left on device\): free space on its "
                                              rf"disk, or give a path on another; nothing half-written was left"):
        write_json(path, {"bleu": 31.0})
    assert json.loads(path.read_text()) == {"bleu": 30.5}
    assert os.listdir(tmp_path) == ["report.json"]  # the temporary file (here the link) is gone


def test_an_input_the_block_cannot_read_keeps_its_own_error(tmp_path):
    # only a failure to write the output is the output's: a file the block reads names itself
    with pytest.raises(FileNotFoundError):
        with atomic_output(tmp_path / "out.txt") as out, open(tmp_path / "absent.txt") as source:
            out.write(source.read())
    assert os.listdir(tmp_path) == []


def test_a_folder_given_as_a_text_file_is_named_as_a_folder(tmp_path):
    with pytest.raises(TextFileError, match=rf"^{tmp_path} is a folder: give the file of text"):
        list(read_lines(tmp_path))


def test_inputs_are_checked_to_be_readable_files(tmp_path):
    (tmp_path / "hyp.txt").write_text("a b\n")
    require_input_file(tmp_path / "hyp.txt", "--hyp-tok", "the hypotheses")
    with pytest.raises(InputFileError, match=rf"^--hyp-tok {tmp_path} is a folder: give the file of the hypotheses$"):
        require_input_file(tmp_path, "--hyp-tok", "the hypotheses")
    with pytest.raises(InputFileError, match=r"^--hyp-tok .*absent.txt does not exist: decode it first$"):
        require_input_file(tmp_path / "absent.txt", "--hyp-tok", "the hypotheses", missing_fix="decode it first")


def read_only_file_system(monkeypatch):
    """Every file made through tempfile fails as on a read-only file system (which stops root too, unlike a
    folder's permissions)."""
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)


@pytest.mark.parametrize("case, message", [
    ("missing folder", "--json {tmp}/absent/x.json: its folder {tmp}/absent does not exist: create it or give "
                       "another path"),
    ("folder", "--json {tmp}/folder is a folder: give the name of the file to write"),
    ("inside a file", "--json {tmp}/a-file/x.json: {tmp}/a-file is a file, not a folder: give another path"),
    ("read-only", "--json {tmp}/x.json: cannot write in {tmp} (Read-only file system): give a folder you can write"),
])
def test_an_output_path_is_checked_before_any_work(tmp_path, monkeypatch, case, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("text\n")
    path = {"missing folder": "absent/x.json", "folder": "folder", "inside a file": "a-file/x.json",
            "read-only": "x.json"}[case]
    if case == "read-only":
        read_only_file_system(monkeypatch)
    with pytest.raises(OutputFileError) as refused:
        require_writable_output(tmp_path / path, "--json")
    assert str(refused.value) == message.format(tmp=tmp_path)
    assert not (tmp_path / "absent").exists()


def test_a_writer_that_makes_its_folder_needs_a_writable_parent(tmp_path, monkeypatch):
    require_writable_output(tmp_path / "results" / "report.md", "--output", make_folder=True)
    require_output_folder(tmp_path / "out" / "text", "--out-dir")
    assert os.listdir(tmp_path) == []  # checked, nothing made
    (tmp_path / "a-file").write_text("text\n")
    with pytest.raises(OutputFileError, match=rf"^--out-dir {tmp_path}/a-file is a file: give a folder to write in$"):
        require_output_folder(tmp_path / "a-file", "--out-dir")
    read_only_file_system(monkeypatch)
    with pytest.raises(OutputFileError, match=rf"^--out-dir {tmp_path}/out/text: cannot write in {tmp_path} "
                                              rf"\(Read-only file system\): give a folder you can write$"):
        require_output_folder(tmp_path / "out" / "text", "--out-dir")


def test_a_folder_the_writer_cannot_make_is_one_error(tmp_path):
    (tmp_path / "a-file").write_text("text\n")
    with pytest.raises(OutputFileError, match=r"^cannot make the folder .*a-file/sub for .*out.json \(.*\): give a "
                                              r"folder you can write$"):
        write_json(tmp_path / "a-file" / "sub" / "out.json", {})
