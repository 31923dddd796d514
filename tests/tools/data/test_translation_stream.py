"""macaron_tools.data.translation_stream: the user's lines to fairseq-interactive and its output back, numbered
by input line, with lines that are not UTF-8 skipped, and every untranslated line named in one error at the end."""

import io
import signal
import sys

import pytest

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.data import translation_stream


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
    assert numbers.read_text() == "0\nskip 1 byte 0xff at byte 1\nskip 2 byte 0xe9 at byte 4\n3\nend 4\n"
    assert captured.err == ""  # output names them, once every line has been written


FAIRSEQ_OUTPUT = (
    "S-0\t▁Der ▁Hund\nH-0\t-0.5\t▁The ▁dog ▁.\nD-0\t-0.5\tThe dog .\nP-0\t-0.1 -0.2 -0.3\n"
    "S-2\t▁Die ▁Katze\nH-2\t-0.7\t▁The ▁cat\nD-2\t-0.7\tThe cat ( singing )\nD-2\t-0.9\tA cat\n"
)

FINISHED_OUTPUT = f"{FAIRSEQ_OUTPUT}{translation_stream.FINISHED}\n".encode()  # fairseq-interactive exited with 0


def test_output_is_one_plain_line_per_input_line_in_order_then_names_the_untranslated(monkeypatch, capsys,
                                                                                      tmp_path):
    numbers = tmp_path / "numbers"
    # input lines 0, 2, 3 and 5 went to fairseq (1 and 4 were not UTF-8); fairseq's line 1 (input 2) was too long
    numbers.write_text("0\nskip 1 byte 0xff at byte 1\n2\n3\nskip 4 byte 0xe9 at byte 7\n5\nend 6\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(FINISHED_OUTPUT), encoding="utf-8"))
    with pytest.raises(MacaronFairseqError) as error:
        translation_stream.main(["output", "--lang", "en", "--line-numbers", str(numbers)])
    # fairseq's 2 is input line 3; the best of --nbest only, Moses-detokenized; every line written first
    assert capsys.readouterr().out == "The dog.\n\n\nThe cat (singing)\n\n\n"
    assert str(error.value) == (
        "4 of 6 input lines not translated, their output lines left empty: lines 3, 6 are longer than the model "
        "takes (fairseq's max_positions above): split them; lines 2 (byte 0xff at byte 1), 5 (byte 0xe9 at byte "
        "7) are not UTF-8 text: convert the input, e.g. iconv -f ISO-8859-1 -t UTF-8"
    )


def test_every_line_translated_is_no_error(monkeypatch, capsys, tmp_path):
    numbers = tmp_path / "numbers"
    numbers.write_text("0\n1\nend 2\n")
    fairseq_lines = f"D-0\t-0.5\tThe dog .\nD-1\t-0.7\tA cat\n{translation_stream.FINISHED}\n"
    assert run_stream(monkeypatch, capsys, fairseq_lines.encode(), "output", "--lang", "en", "--line-numbers",
                      str(numbers)) == ("The dog.\nA cat\n", "")


def test_many_untranslated_lines_are_counted_past_the_first_ten(monkeypatch, capsys, tmp_path):
    numbers = tmp_path / "numbers"
    numbers.write_text("".join(f"skip {n} byte 0xe9 at byte 1\n" for n in range(25)) + "end 25\n")
    finished = f"{translation_stream.FINISHED}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(finished), encoding="utf-8"))
    with pytest.raises(MacaronFairseqError, match=r"^25 of 25 input lines .*: lines 1 \(.*\), 10 \(byte 0xe9 at "
                                                  r"byte 1\) and 15 more are not UTF-8 text"):
        translation_stream.main(["output", "--lang", "en", "--line-numbers", str(numbers)])
    assert capsys.readouterr().out == "\n" * 25


@pytest.mark.parametrize("numbers_written", ["0\n1\n", "0\n1\nend 2\n"])
def test_fairseq_stopping_first_is_left_to_fairseq(monkeypatch, capsys, tmp_path, numbers_written):
    """fairseq stopped (a bad checkpoint) before or after the source read every line: no FINISHED line, so no
    line is called untranslated; fairseq's own error is the one to read."""
    numbers = tmp_path / "numbers"
    numbers.write_text(numbers_written)
    assert run_stream(monkeypatch, capsys, b"", "output", "--lang", "en", "--line-numbers", str(numbers)) == ("", "")
    assert run_stream(monkeypatch, capsys, b"", "output", "--lang", "en", "--line-numbers", str(numbers),
                      "--fairseq-output") == ("", "")


def test_fairseq_output_is_renumbered_by_input_line(monkeypatch, capsys, tmp_path):
    numbers = tmp_path / "numbers"
    numbers.write_text("0\nskip 1 byte 0xff at byte 1\n2\n3\nend 4\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(FINISHED_OUTPUT), encoding="utf-8"))
    with pytest.raises(MacaronFairseqError, match=r"^2 of 4 input lines not translated, .*: line 3 is longer .*; "
                                                  r"line 2 \(byte 0xff at byte 1\) is not UTF-8 text"):
        translation_stream.main(["output", "--lang", "en", "--line-numbers", str(numbers), "--fairseq-output"])
    assert capsys.readouterr().out == FAIRSEQ_OUTPUT.replace("-2\t", "-3\t")


def test_a_line_numbers_file_it_cannot_use_is_one_error(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Ein Hund.\n"), encoding="utf-8"))
    with pytest.raises(MacaronFairseqError, match=rf"^--line-numbers {tmp_path}/missing/numbers: its folder "
                                                  rf"{tmp_path}/missing does not exist"):
        translation_stream.main(["source", "--lang", "de", "--line-numbers", str(tmp_path / "missing" / "numbers")])
    with pytest.raises(MacaronFairseqError, match=rf"^--line-numbers {tmp_path}/numbers does not exist: give the file "
                                                  rf"that the source command writes$"):
        translation_stream.main(["output", "--lang", "en", "--line-numbers", str(tmp_path / "numbers")])
