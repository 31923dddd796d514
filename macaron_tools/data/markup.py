"""Sentences out of the marked-up files that TED (IWSLT) and WMT ship.

Two layouts occur:

* evaluation sets (IWSLT ``IWSLT14.TED.tst2010.de-en.de.xml``, WMT ``newstest2014-deen-src.en.sgm``): one
  ``<seg id="N"> sentence </seg>`` per line among document markup. The sentence is the text between the tags,
  trimmed, with runs of white space collapsed -- what sacreBLEU takes from the same files, so references written
  from it match ``sacrebleu -t wmt14``. Entities such as ``&amp;`` are left as they are, as sacreBLEU and the
  authors' scripts leave them.
* IWSLT training text (``train.tags.de-en.de``): plain sentences, one or more per line, between lines of talk
  metadata. ``<title>`` and ``<description>`` lines are translated text and are kept without their tags, as the
  standard IWSLT14 preparation keeps them; every other tag line (``<url>``, ``<keywords>``, ``<talkid>``, and in
  later releases ``<speaker>``, ``<reviewer>``, ``<translator>``, ``<doc>``) is dropped. Both sides carry the same
  metadata lines, so they stay aligned.
"""

import re

from macaron_tools.data.text_files import CorpusError

SEGMENT = re.compile(r"<seg\b[^>]*>(.*)</seg>", re.IGNORECASE)
TAG_LINE = re.compile(r"^\s*</?([A-Za-z]+)\b[^>]*>")
TRANSLATED_METADATA = {"title", "description"}
WHITE_SPACE = re.compile(r"\s+")


def clean_white_space(text):
    """Trims ``text`` and collapses runs of white space to one space."""
    return WHITE_SPACE.sub(" ", text.strip())


def segments(lines, path):
    """The ``<seg>`` contents of ``lines`` (read from ``path``, named in errors), in file order."""
    for number, line in enumerate(lines, start=1):
        if "<seg" not in line.lower():
            continue
        match = SEGMENT.search(line)
        if match is None:
            raise CorpusError(
                f"{path} line {number} opens a <seg> that does not close on the same line: the file is damaged or "
                f"is not an IWSLT/WMT evaluation set; use the file from the original archive"
            )
        yield clean_white_space(match.group(1))


def ted_training_sentences(lines):
    """The sentence lines of an IWSLT ``train.tags.*`` file, without talk metadata."""
    for line in lines:
        tag = TAG_LINE.match(line)
        if tag is None:
            yield clean_white_space(line)
        elif tag.group(1).lower() in TRANSLATED_METADATA:
            yield clean_white_space(re.sub(r"</?[A-Za-z]+\b[^>]*>", " ", line))
