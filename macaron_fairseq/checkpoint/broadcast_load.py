"""Weights-only loading of the checkpoint that distributed training broadcasts when a run resumes.

With several processes only rank 0 reads the checkpoint file (weights-only, see ``safe_load``); it sends the
loaded state to the other ranks through ``distributed.utils.broadcast_object``, which pickles it with
``torch.save``, each tensor replaced by a ``_TensorPlaceholder`` and sent separately, and the other ranks
``torch.load`` it: weights-only since torch 2.6. By then ``load_checkpoint_to_cpu`` has turned the state's
"cfg" into an omegaconf ``DictConfig``. Neither type is in a checkpoint file, so every resumed multi-process run
stopped on rank 1 with ``Unsupported global: GLOBAL omegaconf.dictconfig.DictConfig``.

They are allowed here only while a rank receives such a broadcast: files are still loaded with the allow-list
of ``safe_load`` alone. The omegaconf types are those of a config that ``OmegaConf.create`` made from a plain
dict, as ``load_checkpoint_to_cpu`` does (found with ``torch.serialization.get_unsafe_globals_in_checkpoint``
on a broadcast state), plus the builtin types its metadata may name.
"""

import functools
import typing
from collections import defaultdict

import torch
from fairseq.distributed import utils as distributed_utils
from omegaconf import DictConfig, ListConfig
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode

BROADCAST_TYPES = [
    distributed_utils._TensorPlaceholder,
    DictConfig, ListConfig, AnyNode, ContainerMetadata, Metadata, typing.Any, defaultdict,
    dict, list, int, float, str, bool,
]


def receive_weights_only(broadcast_object_slow):
    @functools.wraps(broadcast_object_slow)
    def broadcast_object_slow_with_config_types(*args, **kwargs):
        with torch.serialization.safe_globals(BROADCAST_TYPES):
            return broadcast_object_slow(*args, **kwargs)

    return broadcast_object_slow_with_config_types
