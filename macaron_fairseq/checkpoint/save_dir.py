"""One-line errors for a fairseq-train --save-dir that cannot hold checkpoints.

fairseq-train checks its --save-dir at the start by creating it and writing a file into it; a --save-dir that is a
file, lies inside a file or cannot be written stops it there with a traceback of the OSError. The wrapper of
``checkpoint_utils.verify_checkpoint_directory`` (installed by :mod:`macaron_fairseq.fairseq_fixes`) names the
folder and the fix instead.
"""

import functools
import os

from macaron_fairseq.checkpoint.safe_load import CheckpointError


def explain_save_dir_errors(verify_checkpoint_directory):
    @functools.wraps(verify_checkpoint_directory)
    def verify_checkpoint_directory_explained(save_dir):
        if os.path.exists(save_dir) and not os.path.isdir(save_dir):
            raise CheckpointError(f"--save-dir {save_dir} is a file: give a folder")
        try:
            return verify_checkpoint_directory(save_dir)
        except OSError as error:
            raise CheckpointError(f"--save-dir {save_dir} cannot hold checkpoints ({error.strerror}: "
                                  f"{error.filename}): give a folder you can write") from None

    return verify_checkpoint_directory_explained
