"""One-line errors for option values fairseq accepts and then fails on deep inside a command.

``--beam 0`` reaches fairseq's ``SequenceGenerator`` and fails there with a ``RuntimeError`` from a tensor of
size 0; ``--tokens-per-sample 0`` (language modelling) reaches ``TokenBlockDataset`` and fails with a
``ZeroDivisionError``; ``--lr -0.01`` trains by gradient ascent. Each wrapper checks the value where fairseq takes
it, and raises an :class:`OptionError` naming the option and what it must be (installed by
:mod:`macaron_fairseq.fairseq_fixes`). A run whose gradients become NaN or infinite stops with one line as well.
"""

import functools
import inspect
import math

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


def refuse_bad_learning_rate(build_optimizer):
    """``Trainer._build_optimizer``: every ``--lr`` must be a finite number of at least 0.

    fairseq trains with any float, so ``--lr -0.01`` runs gradient ascent to the end and exits 0. The trainer builds
    its optimizer before the first update (when it looks for a checkpoint to resume), so this comes before training.
    """

    @functools.wraps(build_optimizer)
    def build_optimizer_with_a_valid_learning_rate(trainer):
        for lr in trainer.cfg.optimization.lr:
            if not (math.isfinite(lr) and lr >= 0):
                raise OptionError(f"--lr {lr} is out of range: pass a finite learning rate of at least 0 "
                                  f"(e.g. --lr 5e-4)")
        return build_optimizer(trainer)

    return build_optimizer_with_a_valid_learning_rate


class TrainingDiverged(MacaronFairseqError):
    """The gradients became NaN or infinite."""


def stop_on_divergence(clip_grad_norm):
    """``Trainer.clip_grad_norm``: a non-finite gradient norm ends training with one line that says what to try.

    fairseq raises FloatingPointError there, saves the whole state as crash.pt and re-runs the batch under its NaN
    detector, which fails in turn (chained tracebacks ending in StopIteration). A run that diverged is not worth
    resuming: the checkpoints before it are. Mixed precision (``--amp``) skips such a batch and goes on; fp16
    handles an overflow with its loss scale before this point, so both are left to fairseq.
    """

    @functools.wraps(clip_grad_norm)
    def clip_grad_norm_or_stop(trainer, clip_norm):
        grad_norm = clip_grad_norm(trainer, clip_norm)
        if not trainer.cfg.common.amp and not bool(grad_norm.isfinite().all()):
            raise TrainingDiverged(
                f"training diverged at update {trainer.get_num_updates() + 1}: the gradients are NaN or infinite "
                f"(--lr {', '.join(map(str, trainer.cfg.optimization.lr))}): lower --lr, warm up for longer "
                f"(--warmup-updates), or clip gradients (--clip-norm)")
        return grad_norm

    return clip_grad_norm_or_stop
