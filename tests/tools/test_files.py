"""How the tools read and write files: lines split at newline only, each bad file one error naming it, and writes
that leave the previous file or the whole new one, never a part."""

import gzip
import json
import os

import pytest

from macaron_tools.files import TextFileError, atomic_output, atomic_path, count_lines, read_lines, write_json


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
