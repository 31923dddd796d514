"""Reading what ``fairseq-generate`` prints: hypotheses and targets by sentence id, and the decoding speed.

fairseq-generate prints each sentence when its batch is done, so the lines come in batch order (batches group
sentences of similar length), not in test-set order::

    S-<id>\t<source>
    T-<id>\t<target, subwords removed>
    H-<id>\t<score>\t<hypothesis, subwords removed>
    D-<id>\t<score>\t<hypothesis after --tokenizer's decoding; equals H without one>
    P-<id>\t<positional scores>

and logs ``Translated 13 sentences (2,483 tokens) in 2.4s (5.32 sentences/s, 1015.93 tokens/s)``. With
``--nbest`` above 1 a sentence has several H lines, best first; only the best is kept here.
"""

import dataclasses
import re
from typing import Dict, List, Optional

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.files import read_lines

HYPOTHESIS = re.compile(r"H-(\d+)\t[^\t]*\t(.*)")
TARGET = re.compile(r"T-(\d+)\t(.*)")
TRANSLATED = re.compile(
    r"Translated ([\d,]+) sentences \(([\d,]+) tokens\) in ([\d.]+)s \(([\d.]+) sentences/s, ([\d.]+) tokens/s"
)


class GenerateOutputError(MacaronFairseqError):
    """A fairseq-generate log that cannot be scored."""


@dataclasses.dataclass
class GenerateOutput:
    hypotheses: Dict[int, str]
    targets: Dict[int, str]
    sentences_translated: Optional[int] = None
    decode_seconds: Optional[float] = None
    sentences_per_second: Optional[float] = None
    generated_tokens: Optional[int] = None  # subword tokens of the hypotheses, EOS included, as fairseq counts
    tokens_per_second: Optional[float] = None


def parse_generate_output(lines):
    """Collects the best hypothesis and the target of every sentence id, and the speed line, from ``lines``."""
    output = GenerateOutput(hypotheses={}, targets={})
    for line in lines:
        line = line.rstrip("\n")
        hypothesis, target = HYPOTHESIS.fullmatch(line), TARGET.fullmatch(line)
        if hypothesis:
            output.hypotheses.setdefault(int(hypothesis.group(1)), hypothesis.group(2))
        elif target:
            output.targets.setdefault(int(target.group(1)), target.group(2))
        else:
            speed = TRANSLATED.search(line)
            if speed:
                output.sentences_translated = int(speed.group(1).replace(",", ""))
                output.decode_seconds = float(speed.group(3))
                output.sentences_per_second = float(speed.group(4))
                output.generated_tokens = int(speed.group(2).replace(",", ""))
                output.tokens_per_second = float(speed.group(5))
    return output


def read_generate_output(path):
    """:func:`parse_generate_output` of a log file; refuses a log without hypotheses."""
    output = parse_generate_output(read_lines(path))
    if not output.hypotheses:
        raise GenerateOutputError(
            f"{path} holds no hypotheses (H- lines): fairseq-generate failed or ran with --quiet; see its end for why"
        )
    return output


def in_sentence_order(lines_by_id, source):
    """The values of ``lines_by_id`` ordered by sentence id; the ids must be 0..n-1, one line per sentence."""
    expected = range(len(lines_by_id))
    if sorted(lines_by_id) != list(expected):
        missing = sorted(set(range(max(lines_by_id) + 1)) - set(lines_by_id))
        raise GenerateOutputError(
            f"{source} lacks sentence ids {_abbreviated(missing)} of 0..{max(lines_by_id)}: some sentences were "
            f"not translated; decode again with --user-dir macaron_fairseq, which keeps fairseq's last batch"
        )
    return [lines_by_id[i] for i in expected]


def _abbreviated(numbers: List[int], shown=5):
    listed = ", ".join(str(n) for n in numbers[:shown])
    return listed + (f" (and {len(numbers) - shown} more)" if len(numbers) > shown else "")
