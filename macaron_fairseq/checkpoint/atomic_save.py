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
"""

import functools
import os
import shutil

from fairseq.file_io import PathManager


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
        except BaseException:
            if os.path.exists(partial_path):
                os.remove(partial_path)
            raise
        return True

    return copy_atomically
