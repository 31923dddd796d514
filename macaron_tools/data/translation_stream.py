"""The text on either side of ``fairseq-interactive`` in ``scripts/translate.sh``.

    python -m macaron_tools.data.translation_stream source --lang de --line-numbers FILE [--moses-options ...]
    python -m macaron_tools.data.translation_stream output --lang en --line-numbers FILE [--fairseq-output]

``source`` reads the user's lines (bytes, one sentence a line) and writes each, preprocessed as the data's
evaluation text was (:class:`~macaron_tools.data.moses_tokenize.MosesPreprocessor`), to fairseq-interactive. A
line that is not UTF-8 text (binary input, a Latin-1 file) is skipped: fairseq would fail on it, and lose the
lines after it. Carriage returns become spaces, as fairseq's text-mode input would split a line at them. Before
writing a line, ``source`` appends its input line number (from 0) to FILE; for a skipped line it appends
``skip N WHERE`` (WHERE the first byte that is not UTF-8), and at the end ``end N``, the number of lines read:
fairseq numbers what it is given, so its N-th line is FILE's N-th number.

``output`` reads fairseq-interactive's output. By default it prints, for every input line in input order, the
best translation as plain text (Moses-detokenized), or an empty line for a line that was not translated (not
UTF-8, or longer than the model takes: fairseq skips those). With ``--fairseq-output`` it prints fairseq's own
lines (S-, H-, D-, P- ...), numbered by input line. Once fairseq has finished (the line :data:`FINISHED` after
its output), a line left untranslated makes it fail with one error line naming every such line, after all the
others have been written: a script reading the output must not take an empty line for a translation.

Both flush every line, so that a line typed at a terminal is answered at once.
"""

import argparse
import re
import signal
import sys

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.files import require_input_file, require_writable_output

_FAIRSEQ_LINE = re.compile(r"([A-Z])-(\d+)\t(.*)", re.DOTALL)
_END = "end "
FINISHED = "#fairseq-interactive finished"
"""The line scripts/translate.sh writes after fairseq-interactive's output once it has exited with status 0: without
it fairseq stopped (its error says why), and the lines it never reached are not called untranslated."""
_SKIP = "skip "
_LISTED = 10  # line numbers named in the error; the rest are counted


def source(args):
    from macaron_tools.data.moses_tokenize import MosesPreprocessor

    require_writable_output(args.line_numbers, "--line-numbers")
    preprocess = MosesPreprocessor(args.lang, **{option: True for option in args.moses_options})
    count = 0
    with open(args.line_numbers, "w", encoding="utf-8") as numbers:
        for count, raw in enumerate(sys.stdin.buffer, start=1):
            try:
                line = raw.rstrip(b"\r\n").decode("utf-8")
            except UnicodeDecodeError as error:
                numbers.write(f"{_SKIP}{count - 1} byte 0x{raw[error.start]:02x} at byte {error.start + 1}\n")
                continue
            numbers.write(f"{count - 1}\n")
            numbers.flush()  # before fairseq can translate the line
            print(preprocess(line.replace("\r", " ")), flush=True)
        numbers.write(f"{_END}{count}\n")


class LineNumbers:
    """FILE as ``source`` writes it: the input line of each of fairseq's lines, and the input's length."""

    def __init__(self, path):
        self.file = open(path, encoding="utf-8")
        self.lines = []  # by fairseq's numbering
        self.given = set()  # the input lines given to fairseq
        self.skipped = {}  # input line: where it stops being UTF-8
        self.total = None
        self.pending = ""

    def _read(self):
        while True:
            entry = self.pending + self.file.readline()
            if not entry.endswith("\n"):  # nothing more yet (or a line still being written)
                self.pending = entry
                return
            self.pending = ""
            if entry.startswith(_END):
                self.total = int(entry[len(_END):])
            elif entry.startswith(_SKIP):
                number, _, where = entry[len(_SKIP):].rstrip("\n").partition(" ")
                self.skipped[int(number)] = where
            else:
                self.lines.append(int(entry))
                self.given.add(self.lines[-1])

    def __getitem__(self, fairseq_id):
        if fairseq_id >= len(self.lines):
            self._read()
        return self.lines[fairseq_id]

    def input_length(self):
        """The number of input lines, or None if ``source`` did not finish (fairseq stopped first)."""
        self._read()
        return self.total


def output(args):
    require_input_file(args.line_numbers, "--line-numbers", "line numbers that the source command writes",
                       missing_fix="give the file that the source command writes")
    numbers = LineNumbers(args.line_numbers)
    translated = set()  # the input lines fairseq translated
    finished = False
    if args.fairseq_output:
        for line in sys.stdin.buffer:
            text = line.decode("utf-8", errors="replace")
            if text.rstrip("\n") == FINISHED:
                finished = True
                continue
            match = _FAIRSEQ_LINE.fullmatch(text)
            if match:
                kind, fairseq_id, rest = match.groups()
                number = numbers[int(fairseq_id)]
                if kind == "D":
                    translated.add(number)
                text = f"{kind}-{number}\t{rest}"
            sys.stdout.write(text)
            sys.stdout.flush()
        if finished:
            _refuse_untranslated(numbers, translated)
        return

    from sacremoses import MosesDetokenizer

    detokenize = MosesDetokenizer(lang=args.lang).detokenize
    next_line = 0  # the first input line without output yet

    def untranslated_up_to(end):
        nonlocal next_line
        for _ in range(next_line, end):
            print(flush=True)
        next_line = max(next_line, end)

    for line in sys.stdin.buffer:
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        finished = finished or text == FINISHED
        match = _FAIRSEQ_LINE.fullmatch(text)
        if not match or match.group(1) != "D":
            continue
        number = numbers[int(match.group(2))]
        if number < next_line:  # another of --nbest's hypotheses
            continue
        untranslated_up_to(number)
        print(detokenize(match.group(3).split("\t", 1)[-1].split()), flush=True)
        translated.add(number)
        next_line = number + 1
    if finished and numbers.input_length() is not None:
        untranslated_up_to(numbers.input_length())
        _refuse_untranslated(numbers, translated)


def _refuse_untranslated(numbers, translated):
    """One error naming the input lines without a translation, once fairseq has finished them all (when fairseq
    or the source stopped first, their own errors are the ones to read)."""
    total = numbers.input_length()
    if total is None:
        return
    missing = [number for number in range(total) if number not in translated]
    if not missing:
        return
    # given to fairseq, which skipped them as too long (and warned), or not UTF-8 (source skipped them)
    too_long = [number for number in missing if number not in numbers.skipped]
    not_utf8 = [number for number in missing if number in numbers.skipped]
    reasons = []
    if too_long:
        reasons.append(f"{_lines(too_long)} longer than the model takes (fairseq's max_positions above): split "
                       f"{'it' if len(too_long) == 1 else 'them'}")
    if not_utf8:
        reasons.append(f"{_lines(not_utf8, numbers.skipped)} not UTF-8 text: convert the input, e.g. "
                       f"iconv -f ISO-8859-1 -t UTF-8")
    raise MacaronFairseqError(f"{len(missing)} of {total} input lines not translated, their output lines left "
                              f"empty: {'; '.join(reasons)}")


def _lines(numbers, detail=None):
    """'line 3 is', 'lines 3, 5 are', ... counting from 1, with each line's detail when given; the first
    _LISTED named, the rest counted."""
    named = [f"{n + 1} ({detail[n]})" if detail else str(n + 1) for n in numbers[:_LISTED]]
    more = f" and {len(numbers) - _LISTED} more" if len(numbers) > _LISTED else ""
    if len(numbers) == 1:
        return f"line {named[0]} is"
    return f"lines {', '.join(named)}{more} are"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m macaron_tools.data.translation_stream",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("source", help="the user's lines, preprocessed, for fairseq-interactive")
    sub.set_defaults(run=source)
    sub.add_argument("--moses-options", nargs="*", default=[],
                     help="MosesPreprocessor options to turn on (corpus.json's eval_moses), e.g. lowercase")
    sub = commands.add_parser("output", help="fairseq-interactive's output, one translation per input line")
    sub.set_defaults(run=output)
    sub.add_argument("--fairseq-output", action="store_true", help="fairseq's own lines, numbered by input line")
    for sub in commands.choices.values():
        sub.add_argument("--lang", required=True, help="the language of the text (source: input; output: target)")
        sub.add_argument("--line-numbers", required=True, help="the file that source writes and output reads")
    args = parser.parse_args(argv)
    # The end of the pipe (fairseq stopped, head, a closed terminal) and Ctrl-C end the command quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    args.run(args)
    return 0


if __name__ == "__main__":
    run_command(main)
