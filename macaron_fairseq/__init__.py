"""Macaron Net (Lu et al. 2019) for fairseq: ``fairseq-train --user-dir macaron_fairseq --arch macaron_transformer ...``.

Importing the package registers the model and its architectures, makes fairseq load its checkpoints weights-only
on torch >= 2.6 and write their copies atomically, names checkpoints that are missing or do not fit the model,
keeps fairseq from dropping the last batch of a dataset, and prints this project's errors as one line.
"""

from macaron_fairseq import errors
from macaron_fairseq.checkpoint import safe_load  # noqa: F401
from macaron_fairseq.checkpoint import atomic_save, broadcast_load, load_errors  # noqa: F401
from macaron_fairseq.data import batching  # noqa: F401
from macaron_fairseq.models import macaron_transformer  # noqa: F401

errors.install_excepthook()
