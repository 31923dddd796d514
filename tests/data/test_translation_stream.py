"""macaron_fairseq.data.translation_stream: the user's lines to fairseq-interactive and its output back, numbered
by input line, with lines that are not UTF-8 skipped and reported."""

import io
import signal
import sys

import pytest

from macaron_fairseq.data import translation_stream


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """main() sets the command's own handlers; the test process keeps pytest's."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGPIPE, signal.SIGINT)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


def run_stream(monkeypatch, capsys, stdin_bytes, *argv):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin_bytes), encoding="utf-8"))
    assert translation_stream.main(list(argv)) == 0
    return capsys.readouterr()


def test_source_skips_lines_that_are_not_utf8_and_numbers_the_others(monkeypatch, capsys, tmp_path):
    numbers = tmp_path / "numbers"
    text = "Der Hund läuft.\n".encode() + b"\xffbinary\n" + "Caf\xe9.\n".encode("latin-1") + b"zwei\rTeile\r\n"
    captured = run_stream(monkeypatch, capsys, text, "source", "--lang", "de", "--line-numbers", str(numbers))
    assert captured.out == "Der Hund läuft .\nzwei Teile\n"  # Moses tokens; a carriage return no line break
    assert numbers.read_text() == "0\n3\nend 4\n"
    assert "[translate] line 2 is not UTF-8 text (byte 0xff at byte 1): skipped" in captured.err
    assert "[translate] line 3 is not UTF-8 text (byte 0xe9 at byte 4): skipped" in captured.err


FAIRSEQ_OUTPUT = (
    "S-0\t▁Der ▁Hund\nH-0\t-0.5\t▁The ▁dog ▁.\nD-0\t-0.5\tThe dog .\nP-0\t-0.1 -0.2 -0.3\n"
    "S-2\t▁Die ▁Katze\nH-2\t-0.7\t▁The ▁cat\nD-2\t-0.7\tThe cat ( singing )\nD-2\t-0.9\tA cat\n"
)


def test_output_is_one_plain_line_per_input_line_in_order(monkeypatch, capsys, tmp_path):
    numbers = tmp_path / "numbers"
    # input lines 0, 2, 3 and 5 went to fairseq (1 and 4 were not UTF-8); fairseq's line 1 (input 2) was too long
    numbers.write_text("0\n2\n3\n5\nend 6\n")
    captured = run_stream(monkeypatch, capsys, FAIRSEQ_OUTPUT.encode(), "output", "--lang", "en",
                          "--line-numbers", str(numbers))
    # fairseq's 2 is input line 3; the best of --nbest only, Moses-detokenized
    assert captured.out == "The dog.\n\n\nThe cat (singing)\n\n\n"
    assert "line 3 is longer than the model takes" in captured.err
    assert "line 6 is longer than the model takes" in captured.err
    assert "line 2 " not in captured.err and "line 5 " not in captured.err  # source reported those


def test_fairseq_output_is_renumbered_by_input_line(monkeypatch, capsys, tmp_path):
    numbers = tmp_path / "numbers"
    numbers.write_text("0\n2\n3\nend 4\n")
    captured = run_stream(monkeypatch, capsys, FAIRSEQ_OUTPUT.encode(), "output", "--lang", "en",
                          "--line-numbers", str(numbers), "--fairseq-output")
    assert captured.out == FAIRSEQ_OUTPUT.replace("-2\t", "-3\t")
