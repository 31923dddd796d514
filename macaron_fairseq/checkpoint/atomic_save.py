"""Copies of checkpoints are written to a temporary file and renamed into place.

fairseq writes each checkpoint once, atomically (``torch_persistent_save`` writes ``NAME.tmp`` and renames it),
and then copies it to the other names it is saved under, among them ``checkpoint_last.pt``, from which a
restarted run resumes, and ``checkpoint_best.pt``. Those copies go through ``PathManager.copy``, which on a local
disk is a plain ``shutil.copyfile`` onto the old file: a run killed while copying (preemption, a job's time
limit, out of memory) leaves a truncated ``checkpoint_last.pt``, and the restart fails on it although the
checkpoint it came from is complete. For checkpoints of a gigabyte or more the copy takes long enough for this
to happen.

Here the copy of a local file goes to ``DST.tmp``, is flushed to disk, and replaces ``DST`` by a rename: a kill
at any moment leaves either the previous complete file or the new one (and at worst a stale ``DST.tmp``, which
the next save overwrites). Paths that fairseq hands to ioPath's handlers (remote storage) are copied as before.

The first write fails the same way on a full or read-only disk: fairseq retries ``torch.save`` three times, logs a
traceback, leaves ``NAME.tmp`` (as large as the checkpoint) and ends in another traceback. Here a local write is
made once, its ``NAME.tmp`` removed when it fails, and the failure is one :class:`CheckpointError` naming the file;
the checkpoints saved before it are untouched either way.
"""

import functools
import os
import shutil

import torch
from fairseq.file_io import PathManager

from macaron_fairseq.checkpoint.safe_load import CheckpointError


def write_error(path, error):
    """The one-line error of a checkpoint ``path`` that could not be written."""
    reason = os.strerror(error.errno) if isinstance(error, OSError) and error.errno else "the write failed"
    return CheckpointError(
        f"cannot write checkpoint {path} ({reason}): free space on its disk, or pass a --save-dir with room that "
        f"you can write; the checkpoints saved before it are unchanged")


def remove_if_present(path):
    if os.path.lexists(path):
        os.remove(path)


def save_once_then_rename(torch_persistent_save):
    @functools.wraps(torch_persistent_save)
    def save_atomically(obj, filename, async_write=False):
        if async_write or PathManager.path_requires_pathmanager(filename):
            return torch_persistent_save(obj, filename, async_write)
        partial_path = f"{filename}.tmp"
        try:
            with open(partial_path, "wb") as partial:
                torch.save(obj, partial)
            os.replace(partial_path, filename)
        except BaseException as error:
            remove_if_present(partial_path)
            if isinstance(error, (OSError, RuntimeError)):  # torch's stream writer reports a failed write so
                raise write_error(filename, error) from error
            raise

    return save_atomically


def copy_then_rename(copy):
    @functools.wraps(copy)
    def copy_atomically(src_path, dst_path, overwrite=False):
        if PathManager.path_requires_pathmanager(src_path) or PathManager.path_requires_pathmanager(dst_path):
            return copy(src_path, dst_path, overwrite)
        if os.path.exists(dst_path) and not overwrite:
            return False  # as ioPath's copy does
        partial_path = f"{dst_path}.tmp"
        try:
            shutil.copyfile(src_path, partial_path)
            with open(partial_path, "rb+") as partial:
                os.fsync(partial.fileno())
            os.replace(partial_path, dst_path)
        except BaseException as error:
            remove_if_present(partial_path)
            if isinstance(error, OSError):
                raise write_error(dst_path, error) from error
            raise
        return True

    return copy_atomically
