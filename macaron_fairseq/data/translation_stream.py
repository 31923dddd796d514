"""The text on either side of ``fairseq-interactive`` in ``scripts/translate.sh``.

    python -m macaron_fairseq.data.translation_stream source --lang de --line-numbers FILE [--moses-options ...]
    python -m macaron_fairseq.data.translation_stream output --lang en --line-numbers FILE [--fairseq-output]

``source`` reads the user's lines (bytes, one sentence a line) and writes each, preprocessed as the data's
evaluation text was (:class:`~macaron_fairseq.data.moses_tokenize.MosesPreprocessor`), to fairseq-interactive. A
line that is not UTF-8 text (binary input, a Latin-1 file) is reported on stderr by its number and skipped:
fairseq would fail on it, and lose the lines after it. Carriage returns become spaces, as fairseq's text-mode
input would split a line at them. Before writing a line, ``source`` appends its input line number (from 0) to
FILE, and at the end ``end N``, the number of lines read: fairseq numbers what it is given, so its N-th line is
FILE's N-th entry.

``output`` reads fairseq-interactive's output. By default it prints, for every input line in input order, the
best translation as plain text (Moses-detokenized), or an empty line for a line that was not translated (not
UTF-8, or longer than the model takes: fairseq skips those), which it reports on stderr. With
``--fairseq-output`` it prints fairseq's own lines (S-, H-, D-, P- ...), numbered by input line.

Both flush every line, so that a line typed at a terminal is answered at once.
"""

import argparse
import re
import signal
import sys

_FAIRSEQ_LINE = re.compile(r"([A-Z])-(\d+)\t(.*)", re.DOTALL)
_END = "end "


def say(message):
    print(f"[translate] {message}", file=sys.stderr, flush=True)


def source(args):
    from macaron_fairseq.data.moses_tokenize import MosesPreprocessor

    preprocess = MosesPreprocessor(args.lang, **{option: True for option in args.moses_options})
    count = 0
    with open(args.line_numbers, "w", encoding="utf-8") as numbers:
        for count, raw in enumerate(sys.stdin.buffer, start=1):
            try:
                line = raw.rstrip(b"\r\n").decode("utf-8")
            except UnicodeDecodeError as error:
                say(f"line {count} is not UTF-8 text (byte 0x{raw[error.start]:02x} at byte {error.start + 1}): "
                    f"skipped, its translation is an empty line; give the text as UTF-8")
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
    numbers = LineNumbers(args.line_numbers)
    if args.fairseq_output:
        for line in sys.stdin.buffer:
            text = line.decode("utf-8", errors="replace")
            match = _FAIRSEQ_LINE.fullmatch(text)
            if match:
                kind, fairseq_id, rest = match.groups()
                text = f"{kind}-{numbers[int(fairseq_id)]}\t{rest}"
            sys.stdout.write(text)
            sys.stdout.flush()
        return

    from sacremoses import MosesDetokenizer

    detokenize = MosesDetokenizer(lang=args.lang).detokenize
    next_line = 0  # the first input line without output yet

    def untranslated_up_to(end):
        nonlocal next_line
        for number in range(next_line, end):
            # not UTF-8 (source said so), or given to fairseq, which skipped it as too long (and warned)
            if number in numbers.given:
                say(f"line {number + 1} is longer than the model takes (fairseq's max_positions above): not "
                    f"translated, its translation is an empty line")
            print(flush=True)
        next_line = max(next_line, end)

    for line in sys.stdin.buffer:
        match = _FAIRSEQ_LINE.fullmatch(line.decode("utf-8", errors="replace").rstrip("\n"))
        if not match or match.group(1) != "D":
            continue
        number = numbers[int(match.group(2))]
        if number < next_line:  # another of --nbest's hypotheses
            continue
        untranslated_up_to(number)
        print(detokenize(match.group(3).split("\t", 1)[-1].split()), flush=True)
        next_line = number + 1
    total = numbers.input_length()
    if total is not None:
        untranslated_up_to(total)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m macaron_fairseq.data.translation_stream",
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
    sys.exit(main())
