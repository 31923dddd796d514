"""Weights-only loading of fairseq checkpoints on torch >= 2.6.

fairseq 0.12 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means weights-only, and every
checkpoint fairseq saved is refused (``Unsupported global: GLOBAL argparse.Namespace``). Turning weights-only off
would unpickle anything, which runs code from the file. Instead the few types fairseq writes into its
checkpoints are allow-listed, so they load and any other pickled object is still refused.

For fairseq's own loads the allow-list is process-wide (torch's safe globals, set in
:mod:`macaron_fairseq.fairseq_fixes`); :func:`load_checkpoint_file` allows the same types for its own load only, so
that tools reading checkpoints need not import fairseq. The checkpoint state that distributed training broadcasts
between workers when a run resumes needs a few more types (see ``broadcast_load``). Failures of
``checkpoint_utils.load_checkpoint_to_cpu``, through which every fairseq command loads checkpoints, become a
:class:`CheckpointError` naming the file and the cause (:func:`refuse_unsafe_loads`).

Before loading, every record of the checkpoint's zip archive is checked against its stored CRC-32: ``torch.load``
does not check them, and loads a file damaged on disk or in a copy with silently wrong weights. (Reading the file
once more costs about half a second per gigabyte when it is cached, as the load that follows then finds it.) A file
that is no zip archive nor torch's legacy format never reaches ``torch.load``, whose messages for it would mean
nothing to a user (a text file: ``KeyError: '101'``) or tell them to load it unsafely (a bare ``pickle.dump``:
"Re-running torch.load with weights_only set to False"): it is read as a pickle without being unpickled, to name
the objects it would import.
"""

import argparse
import functools
import glob
import os
import pickle
import pickletools
import re
import shlex
import zipfile

import numpy
import torch

from macaron_fairseq.errors import MacaronFairseqError

# What fairseq 0.12 writes besides tensors, numbers, strings, lists and (ordered) dicts, which torch loads
# weights-only anyway: the argparse Namespace of models configured from the command line (in "args", and as
# "cfg.model"); with --eval-bleu, the BLEU statistics of validation, int64 numpy arrays (in
# "extra_state.metrics"), which need numpy's array constructor, ndarray, dtype and the int64 dtype's class (no
# other dtype, so no array of pickled objects). Found with torch.serialization.get_unsafe_globals_in_checkpoint
# on checkpoints fairseq-train wrote.
FAIRSEQ_CHECKPOINT_TYPES = [
    argparse.Namespace,
    numpy.zeros(0).__reduce__()[0],  # numpy._core.multiarray._reconstruct, numpy.core.multiarray's before numpy 2
    numpy.ndarray,
    numpy.dtype,
    type(numpy.dtype(numpy.int64)),
]


class CheckpointError(MacaronFairseqError):
    """A checkpoint that cannot or must not be loaded."""


def load_checkpoint_file(path):
    """``torch.load(path)`` weights-only, to CPU, with the allow-list; raises :class:`CheckpointError`."""
    try:
        verify_checksums(path)
        with open(path, "rb") as f, torch.serialization.safe_globals(_not_yet_allowed(FAIRSEQ_CHECKPOINT_TYPES)):
            return torch.load(f, map_location=torch.device("cpu"), weights_only=True)
    except Exception as error:
        raise checkpoint_error(path, error) from error


def _not_yet_allowed(types):
    # torch's safe_globals context removes its types on exit, even those that were allowed process-wide before
    allowed = torch.serialization.get_safe_globals()
    return [allowed_type for allowed_type in types if allowed_type not in allowed]


def verify_checksums(path):
    """Raises :class:`CheckpointError` if a record of the checkpoint's archive does not match its CRC-32, or if the
    file is no PyTorch checkpoint at all."""
    if not os.path.isfile(path):
        return  # torch.load reports a missing file or a folder
    if not zipfile.is_zipfile(path):
        refuse_what_is_no_checkpoint(path)
        return  # an archive cut short, torch's legacy format: torch.load reports or reads them
    with zipfile.ZipFile(path) as archive:
        damaged = archive.testzip()
    if damaged is not None:
        raise CheckpointError(
            f"checkpoint {path} is corrupt ({damaged} does not match its checksum): {_how_to_recover(path)}"
        )


_ZIP_LOCAL_HEADER = b"PK\x03\x04"  # how every zip archive starts, and a truncated one too
# the first pickle of a file torch.save wrote with _use_new_zipfile_serialization=False
_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_NOT_A_CHECKPOINT = "pass a checkpoint that fairseq-train saved (a .pt file of its --save-dir)"


def refuse_what_is_no_checkpoint(path):
    """Raises :class:`CheckpointError` for a file that is neither a zip archive (even a truncated one) nor torch's
    legacy format: an empty file, a bare pickle (naming what it would import), anything else."""
    with open(path, "rb") as f:
        if f.read(len(_ZIP_LOCAL_HEADER)) == _ZIP_LOCAL_HEADER:
            return
        f.seek(0)
        try:
            opcodes = list(pickletools.genops(f))
        except Exception:  # pickletools' own errors are ValueErrors; garbage can trip it in other ways
            opcodes = None
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint {path} is empty: {_NOT_A_CHECKPOINT}")
    if opcodes is None:
        raise CheckpointError(f"checkpoint {path} is not a PyTorch checkpoint (neither a zip archive nor a pickle): "
                              f"{_NOT_A_CHECKPOINT}")
    if any(opcode.name == "LONG1" and arg == _LEGACY_MAGIC_NUMBER for opcode, arg, _ in opcodes):
        return
    imported = _pickled_globals(opcodes)
    if imported:
        # torch.load reads no bare pickle, weights-only or not: each of its objects is refused
        raise CheckpointError(
            f"refused to load {path}: it is a bare pickle, not a PyTorch checkpoint, and holds a pickled object "
            f"({', '.join(imported[:3])}) that is not allowed, as unpickling it could run code; {_NOT_A_CHECKPOINT}"
        )
    raise CheckpointError(f"checkpoint {path} is a bare pickle, not a PyTorch checkpoint: {_NOT_A_CHECKPOINT}")


def _pickled_globals(opcodes):
    """The ``module.name`` of each global a pickle imports, in order, from its opcodes (nothing is unpickled)."""
    imported, pushed, memo = [], [], {}  # pushed: the strings pushed so far, None for any other value
    for opcode, arg, _ in opcodes:
        if opcode.name in ("GLOBAL", "INST"):
            imported.append(arg.replace(" ", "."))
        elif opcode.name == "STACK_GLOBAL":  # module and name are the last two values pushed
            imported.append(".".join(str(part) for part in pushed[-2:]))
        if opcode.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = pushed[-1] if pushed else None
        elif opcode.name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(arg))
        elif opcode.stack_after:
            pushed.append(arg if isinstance(arg, str) else None)
    return list(dict.fromkeys(imported))


def architecture_of(state):
    """The ``--arch`` of a loaded checkpoint ``state``: saved as argparse args (older fairseq, and models configured
    by argparse), or as a config whose model section names its ``_name`` (models configured by a dataclass)."""
    if state.get("args") is not None:
        return state["args"].arch
    model = state["cfg"]["model"]
    if isinstance(model, dict):
        return model.get("arch") or model.get("_name")
    return getattr(model, "arch", None) or getattr(model, "_name", None)


def task_of(state):
    """The ``--task`` of a loaded checkpoint ``state``."""
    if state.get("args") is not None:
        return getattr(state["args"], "task", None)
    task = state["cfg"]["task"]
    return task.get("_name") if isinstance(task, dict) else getattr(task, "_name", None)


def checkpoint_error(path, error):
    if isinstance(error, CheckpointError):
        return error
    if isinstance(error, FileNotFoundError):
        return CheckpointError(f"checkpoint {path} does not exist: check the path or train the model first")
    if isinstance(error, IsADirectoryError):
        return CheckpointError(f"checkpoint {path} is a directory: name the .pt file inside it")
    offending = _offending_global(str(error)) if isinstance(error, pickle.UnpicklingError) else None
    if offending:
        return CheckpointError(
            f"refused to load {path}: it holds a pickled object ({offending}) that is not a tensor or one of the "
            f"types fairseq saves, and unpickling it could run code; load only checkpoints you trust to be fairseq's"
        )
    refusal = _weights_only_refusal(str(error)) if isinstance(error, pickle.UnpicklingError) else None
    if refusal:
        # torch's message goes on to suggest loading with weights_only=False, which would run the file's code
        return CheckpointError(
            f"refused to load {path}: the weights-only unpickler does not allow what it holds ({refusal}), and a "
            f"checkpoint fairseq saved holds nothing of the kind; load only checkpoints you trust to be fairseq's"
        )
    # Anything else the unpickler trips on (unknown opcodes, cut-off archives, garbage) means a damaged file or
    # not a checkpoint at all.
    if isinstance(error, (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
                          KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError)):
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return CheckpointError(
            f"checkpoint {path} is corrupt, truncated or not a PyTorch checkpoint ({detail[:200]}): "
            f"{_how_to_recover(path)}"
        )
    return error


def _how_to_recover(path):
    """The fix for an unreadable checkpoint; for checkpoint_last.pt, from which a restarted run resumes, the
    command that makes it resume from the newest epoch or update checkpoint beside it instead."""
    folder, name = os.path.split(str(path))
    if not name.startswith("checkpoint_last"):
        return "copy it again or use an earlier checkpoint"
    earlier = [
        candidate for candidate in glob.glob(os.path.join(folder, "checkpoint*.pt"))
        if re.fullmatch(r"checkpoint(\d+|_\d+_\d+)\.pt", os.path.basename(candidate))
    ]
    if not earlier:
        return "no earlier checkpoint is beside it; remove it to train from the start"
    newest = max(earlier, key=os.path.getmtime)
    return (f"to resume from the newest earlier checkpoint, replace it: "
            f"cp {shlex.quote(newest)} {shlex.quote(str(path))}")


def _offending_global(message):
    """The global a weights-only load refused, e.g. ``posix.system``, or None when it failed for another reason."""
    found = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", message, flags=re.IGNORECASE)
    return found.group(1) if found else None


def _weights_only_refusal(message):
    """What torch's weights-only unpickler refused, e.g. ``Unsupported operand 149``, or None for another failure."""
    found = re.search(r"WeightsUnpickler error:\s*(.+)", message)
    return found.group(1).strip() if found else None


def refuse_unsafe_loads(load_checkpoint_to_cpu):
    @functools.wraps(load_checkpoint_to_cpu)
    def load_checkpoint_to_cpu_weights_only(path, *args, **kwargs):
        try:
            verify_checksums(path)
            return load_checkpoint_to_cpu(path, *args, **kwargs)
        except Exception as error:
            converted = checkpoint_error(path, error)
            if converted is error:
                raise
            raise converted from error

    return load_checkpoint_to_cpu_weights_only
