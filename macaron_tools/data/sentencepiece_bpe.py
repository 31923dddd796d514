"""Joint BPE with sentencepiece over Moses-tokenized text, and encoding text as pieces for fairseq.

The model is trained on both languages' training text at once, so source and target share one vocabulary, as
``--joined-dictionary`` and ``--share-all-embeddings`` expect.

Normalization is ``identity``: sentencepiece's default (NFKC) would rewrite characters, and then the pieces
joined back (``fairseq-generate --post-process sentencepiece``) would no longer equal the tokenized text they came
from, nor the tokenized references. The vocabulary size is a soft limit, so a small corpus (a test's, or the
synthetic one) gets the pieces it has instead of an error; the size reached is reported.
"""

import os

import sentencepiece

from macaron_tools.data.text_files import CorpusError
from macaron_tools.files import require_input_file

ENCODE_BATCH_LINES = 10000


def train_joint_bpe(
    inputs, model_prefix, vocab_size, character_coverage=1.0, input_sentence_size=0, threads=1, seed=1
):
    """Trains ``MODEL_PREFIX.model`` and ``.vocab`` on the ``inputs`` files; returns the number of pieces."""
    for path in inputs:
        require_input_file(path, what="tokenized training text",
                           missing_fix="tokenize the training text before learning BPE on it")
    os.makedirs(os.path.dirname(os.path.abspath(model_prefix)), exist_ok=True)
    # Fixes the sampling of input_sentence_size sentences (and any other randomness) across runs.
    sentencepiece.set_random_generator_seed(seed)
    try:
        _train(inputs, model_prefix, vocab_size, character_coverage, input_sentence_size, threads)
    except RuntimeError as error:  # sentencepiece reports bad input as RuntimeError("INTERNAL: ...")
        raise CorpusError(
            f"sentencepiece could not learn BPE from {', '.join(inputs)} ({error}): check that the files hold "
            f"tokenized sentences"
        ) from None
    return sentencepiece.SentencePieceProcessor(model_file=model_prefix + ".model").get_piece_size()


def _train(inputs, model_prefix, vocab_size, character_coverage, input_sentence_size, threads):
    sentencepiece.SentencePieceTrainer.train(
        input=list(inputs),
        model_prefix=model_prefix,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=character_coverage,
        normalization_rule_name="identity",
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=input_sentence_size > 0,
        num_threads=threads,
        minloglevel=2,  # warnings and errors only; the trainer logs every merge otherwise
    )


def encode_as_pieces(model_file, lines, threads=1):
    """Yields each line as space-separated pieces (``▁Das ▁Ha us``); an empty line stays empty."""
    processor = sentencepiece.SentencePieceProcessor(model_file=model_file)
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == ENCODE_BATCH_LINES:
            yield from _encode_batch(processor, batch, threads)
            batch = []
    yield from _encode_batch(processor, batch, threads)


def _encode_batch(processor, batch, threads):
    for pieces in processor.encode(batch, out_type=str, num_threads=threads):
        yield " ".join(pieces)
