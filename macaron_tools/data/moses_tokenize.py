"""Moses tokenization (sacremoses), with the optional steps that come before it in the standard recipes.

One :class:`MosesPreprocessor` holds a setting's whole per-sentence pipeline, in the order of the Moses scripts
the recipes ran: normalize punctuation (``normalize-punctuation.perl -l L``), replace non-printing characters
(``remove-non-printing-char.perl``), tokenize (``tokenizer.perl -l L [-a]``), lowercase (``lowercase.perl``).

Tokens are not XML-escaped (``tokenizer.perl -no-escape``): the text stays text, so sentencepiece learns ``"``
rather than ``&quot;`` and ``fairseq-generate --post-process sentencepiece`` gives back plain tokenized text.
Escaping changes no token boundary, so tokenized BLEU is the same either way.

Long files are tokenized by a pool of processes, in chunks that keep memory bounded, with a line count printed
to stderr every ``progress_every`` lines.
"""

import multiprocessing
import sys
from itertools import islice

import regex
from sacremoses import MosesPunctNormalizer, MosesTokenizer

# remove-non-printing-char.perl replaces every character of Unicode category C (control, format, unassigned,
# private use, surrogate) -- tab included -- with a space; the tokenizer then collapses the spaces.
NON_PRINTING = regex.compile(r"\p{C}")
CHUNK_LINES = 2000
# Below this many lines starting worker processes costs more than it saves.
PARALLEL_MIN_LINES = 20000


class MosesPreprocessor:
    """Maps a raw sentence to the tokenized text a model of this setting reads."""

    def __init__(
        self,
        lang,
        lowercase=False,
        aggressive_dash_splits=False,
        normalize_punctuation=False,
        remove_non_printing=False,
        straight_apostrophes=False,
    ):
        self.lang = lang
        self.lowercase = lowercase
        self.aggressive_dash_splits = aggressive_dash_splits
        self.remove_non_printing = remove_non_printing
        self.straight_apostrophes = straight_apostrophes
        self.tokenizer = MosesTokenizer(lang=lang)
        # perl_parity: the Perl script's mapping of a lone ’ to " (sacremoses' default maps it to ').
        self.normalizer = MosesPunctNormalizer(lang=lang, perl_parity=True) if normalize_punctuation else None

    def __call__(self, sentence):
        if self.straight_apostrophes:
            # The standard IWSLT14 preparation writes ’ as ' in its evaluation sets (not in training text).
            sentence = sentence.replace("\u2019", "'")
        if self.normalizer is not None:
            sentence = self.normalizer.normalize(sentence)
        if self.remove_non_printing:
            sentence = NON_PRINTING.sub(" ", sentence)
        tokens = self.tokenizer.tokenize(
            sentence, aggressive_dash_splits=self.aggressive_dash_splits, return_str=True, escape=False
        )
        return tokens.lower() if self.lowercase else tokens


_worker_preprocessor = None


def _start_worker(preprocessor_options):
    global _worker_preprocessor
    _worker_preprocessor = MosesPreprocessor(**preprocessor_options)


def _preprocess_chunk(lines):
    return [_worker_preprocessor(line) for line in lines]


def _chunks(lines, size):
    lines = iter(lines)
    while chunk := list(islice(lines, size)):
        yield chunk


class ProgressCounter:
    """Prints ``[tokenize] NAME: N lines`` to stderr every ``every`` lines and once at the end."""

    def __init__(self, name, every, prefix="tokenize"):
        self.name, self.every, self.prefix = name, every, prefix
        self.count = 0
        self.next_report = every

    def add(self, lines):
        self.count += lines
        while self.every and self.count >= self.next_report:
            print(f"[{self.prefix}] {self.name}: {self.next_report:,} lines", file=sys.stderr, flush=True)
            self.next_report += self.every

    def finish(self):
        print(f"[{self.prefix}] {self.name}: {self.count:,} lines done", file=sys.stderr, flush=True)


def preprocess_lines(lines, preprocessor_options, workers=1, expected_lines=None, progress=None):
    """Yields ``MosesPreprocessor(**preprocessor_options)(line)`` for each line, in order.

    ``workers`` > 1 spreads chunks over processes when ``expected_lines`` makes that worth it. At most four chunks
    per worker are read ahead, so a corpus of millions of lines is never held in memory.
    """
    if workers <= 1 or (expected_lines is not None and expected_lines < PARALLEL_MIN_LINES):
        preprocessor = MosesPreprocessor(**preprocessor_options)
        for chunk in _chunks(lines, CHUNK_LINES):
            yield from (preprocessor(line) for line in chunk)
            if progress is not None:
                progress.add(len(chunk))
        return
    with multiprocessing.get_context("fork").Pool(workers, _start_worker, (preprocessor_options,)) as pool:
        chunks = _chunks(lines, CHUNK_LINES)
        # A window of a few chunks per worker at a time: Pool.imap alone would read the whole file ahead.
        while window := list(islice(chunks, 4 * workers)):
            for tokenized in pool.imap(_preprocess_chunk, window):
                yield from tokenized
                if progress is not None:
                    progress.add(len(tokenized))
