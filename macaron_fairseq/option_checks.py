"""One-line errors for option values fairseq accepts and then fails on deep inside a command.

``--beam 0`` reaches fairseq's ``SequenceGenerator`` and fails there with a ``RuntimeError`` from a tensor of
size 0; ``--tokens-per-sample 0`` (language modelling) reaches ``TokenBlockDataset`` and fails with a
``ZeroDivisionError``. Both wrappers check the value where fairseq takes it, and raise an :class:`OptionError`
naming the option and what it must be (installed by :mod:`macaron_fairseq.fairseq_fixes`).
"""

import functools
import inspect

from macaron_fairseq.errors import MacaronFairseqError


class OptionError(MacaronFairseqError):
    """An option value out of its range."""


def _require_at_least_one(init, parameter, option):
    signature = inspect.signature(init)

    @functools.wraps(init)
    def checked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        value = bound.arguments[parameter]
        if value is not None and value < 1:  # None: a block per sentence (--sample-break-mode eos)
            raise OptionError(f"{option} {value} is out of range: pass a whole number of at least 1")
        return init(*args, **kwargs)

    return checked


def refuse_empty_beam(init):
    """``SequenceGenerator.__init__``: its beam must hold at least one hypothesis."""
    return _require_at_least_one(init, "beam_size", "--beam")


def refuse_empty_blocks(init):
    """``TokenBlockDataset.__init__``: its blocks must hold at least one token."""
    return _require_at_least_one(init, "block_size", "--tokens-per-sample")
