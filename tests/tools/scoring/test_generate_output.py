"""Reading fairseq-generate's output: sentence order, empty and n-best hypotheses, the speed line."""

import pytest

from macaron_tools.scoring.generate_output import (
    GenerateOutputError,
    in_sentence_order,
    parse_generate_output,
    read_generate_output,
)

# Shaped like fairseq-generate's stdout and log: batches in length order, so sentence ids out of order; sentence 1
# decoded to nothing; sentence 2 with --nbest 2.
LOG = """\
INFO:fairseq_cli.generate:loading model(s) from checkpoint_best.pt
S-2\tder hund läuft .
T-2\tthe dog runs .
H-2\t-0.31\tthe dog runs .
D-2\t-0.31\tthe dog runs .
P-2\t-0.1 -0.2 -0.3 -0.4 -0.5
H-2\t-0.95\ta dog runs .
D-2\t-0.95\ta dog runs .
S-0\tdie katze schläft heute im park .
T-0\tthe cat sleeps in the park today .
H-0\t-0.52\tthe cat sleeps in the park today .
D-0\t-0.52\tthe cat sleeps in the park today .
S-1\tja .
T-1\tyes .
H-1\t-2.10\t
D-1\t-2.10\t
INFO:fairseq_cli.generate:Translated 1,003 sentences (12,345 tokens) in 2.4s (5.32 sentences/s, 1.2 tokens/s)
Generate test with beam=5: BLEU4 = 35.43, 70.1/44.5/29.9/20.6 (BP=0.951, ratio=0.952, syslen=1, reflen=1)
"""


def test_hypotheses_and_targets_by_sentence_id():
    output = parse_generate_output(LOG.splitlines(keepends=True))

    assert in_sentence_order(output.hypotheses, "log") == [
        "the cat sleeps in the park today .", "", "the dog runs .",  # the best of sentence 2's two
    ]
    assert in_sentence_order(output.targets, "log") == ["the cat sleeps in the park today .", "yes .", "the dog runs ."]


def test_speed_line_in_either_log_format():
    output = parse_generate_output(LOG.splitlines())
    assert (output.sentences_translated, output.decode_seconds, output.sentences_per_second) == (1003, 2.4, 5.32)

    train_style_format = (
        "2026-11-28 23:10:43 | INFO | fairseq_cli.generate | "
        "Translated 13 sentences (2,483 tokens) in 0.5s (26.00 sentences/s, 9.1 tokens/s)"
    )
    output = parse_generate_output([train_style_format])
    assert (output.sentences_translated, output.decode_seconds, output.sentences_per_second) == (13, 0.5, 26.0)


def test_missing_sentence_ids_are_refused():
    output = parse_generate_output([line for line in LOG.splitlines() if not line.startswith("H-1")])

    with pytest.raises(GenerateOutputError, match=r"lacks sentence ids 1 of 0\.\.2"):
        in_sentence_order(output.hypotheses, "generate-test.log")


def test_log_without_hypotheses_is_refused(tmp_path):
    log = tmp_path / "generate-test.log"
    log.write_text("Traceback (most recent call last):\nRuntimeError: CUDA out of memory\n")

    with pytest.raises(GenerateOutputError, match="no hypotheses"):
        read_generate_output(log)


def test_tabs_and_unicode_line_breaks_stay_in_the_hypothesis(tmp_path):
    log = tmp_path / "generate-test.log"
    log.write_text("H-0\t-0.5\ta\tb\u2028c\nH-1\t-0.5\td\n", encoding="utf-8")

    assert in_sentence_order(read_generate_output(log).hypotheses, "log") == ["a\tb\u2028c", "d"]
