"""Convert a checkpoint released by Macaron Net's authors into one that this plugin loads.

Lu et al. (2019) released trained models (IWSLT14 small, WMT14 base and big) in the checkpoint format of their
fairseq v0.6 fork. The converted checkpoint has this plugin's architecture, their hyperparameters in a fairseq 0.12
configuration, and their weights under the plugin's names, so that
``fairseq-generate --user-dir macaron_fairseq --path OUT.pt`` loads it. Their optimizer state and training
progress are not carried over.

The input is loaded weights-only: nothing in it can run code. The output is written to a temporary file next to
it and renamed into place, so a refused or failed conversion leaves no output behind.
"""

import argparse
import contextlib
import os
import warnings
from dataclasses import dataclass

import torch
from fairseq.data import Dictionary
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.tasks.translation import TranslationTask
from omegaconf import OmegaConf

from macaron_fairseq.checkpoint.safe_load import CheckpointError, load_checkpoint_file
from macaron_tools.conversion.errors import (
    ConversionError,
    NotAMacaronCheckpoint,
    NotAnOfficialCheckpoint,
    ShapeMismatch,
)
from macaron_tools.conversion.official_args import plugin_training_args
from macaron_tools.conversion.official_weights import rename_official_weights, upgrade_for_model
from macaron_tools.files import atomic_path, require_writable_output

DROPPED_ENTRIES = ("last_optimizer_state", "extra_state")
"""Top-level entries of their checkpoint left out: Adam's moments and their data iterator's position."""


class TheirTrainingMeter:
    """One of their trainer's meters, read as inert data: the numbers it held, and no method of fairseq v0.6's.

    Their ``Trainer.save_checkpoint`` stores ``extra_state['train_meters']``, objects of ``fairseq.meters`` (a module
    fairseq 0.12 no longer has), and their ``average_checkpoints.py`` keeps the first file's whole state, so the
    released files may hold them. A weights-only load refuses any class it does not know; these names are let
    through as this class, in the converter's load only, and dropped with the rest of ``extra_state``.
    """

    def __setstate__(self, state):
        # the unpickler hands over the meter's __dict__; only numbers and None are kept, nothing is called
        self.__dict__.update({key: value for key, value in state.items()
                              if value is None or isinstance(value, (bool, int, float))})


THEIR_TRAINER_TYPES = [(TheirTrainingMeter, f"fairseq.meters.{name}")
                       for name in ("AverageMeter", "TimeMeter", "StopwatchMeter")]
"""The classes their checkpoints name beyond fairseq's own, each read as :class:`TheirTrainingMeter`."""


@dataclass
class Conversion:
    """What a conversion read and wrote."""

    their_arch: str
    arch: str
    pre_norm: bool
    num_updates: int
    dropped: tuple


def convert_official_checkpoint(input_path, output_path):
    """Convert the authors' checkpoint ``input_path`` to ``output_path``; returns a :class:`Conversion`.

    Raises a :class:`~macaron_tools.conversion.errors.ConversionError`,
    :class:`~macaron_fairseq.checkpoint.safe_load.CheckpointError` or, for an output it cannot write,
    :class:`~macaron_tools.files.OutputFileError`, with ``output_path`` left untouched.
    """
    check_output_path(input_path, output_path)
    theirs = load_official_checkpoint(input_path)
    with naming(input_path):
        args = plugin_training_args(theirs["args"])
        check_has_macaron_ffn(theirs)
        weights = rename_official_weights(theirs["model"])
        check_ffn_widths(args)
        model = build_meta_model(args, weights)
        weights = upgrade_for_model(weights, model)
        check_weights_fit(weights, model, args)
        history = training_record(theirs)
    # through a file object, so that a full disk is an OSError that atomic_path reports in one line
    with atomic_path(output_path) as temporary, open(temporary, "wb") as f:
        torch.save({
            "args": None,  # fairseq 0.12 keeps the configuration in "cfg", as fairseq-train writes it
            "cfg": fairseq_config(args),
            "model": {key: weights[key] for key in model.state_dict()},
            "criterion": None,
            "optimizer_history": [history],
            "task_state": {},
            "extra_state": {},  # fairseq starts a fresh data iterator from this
        }, f)
    return Conversion(
        their_arch=theirs["args"].arch,
        arch=args.arch,
        pre_norm=args.encoder_normalize_before,
        num_updates=history["num_updates"],
        dropped=tuple(entry for entry in DROPPED_ENTRIES if theirs.get(entry)),
    )


@contextlib.contextmanager
def naming(path):
    """Prefix the file's name to a conversion error raised inside, so that the message stands on its own."""
    try:
        yield
    except ConversionError as error:
        raise type(error)(f"not converting {path}: {error}") from error


def check_output_path(input_path, output_path):
    # docs/official-checkpoints.md converts each checkpoint into a folder of its own, made here
    require_writable_output(output_path, "the output", make_folder=True)
    if os.path.exists(output_path) and os.path.exists(input_path) and os.path.samefile(input_path, output_path):
        raise ConversionError(f"the output {output_path} is the input: name a new file for the converted checkpoint")


TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")
"""How files torch.save wrote begin: a zip archive (torch >= 1.6), or a pickle (older torch, as fairseq v0.6 ran on)."""


def load_official_checkpoint(path):
    """Their checkpoint, loaded weights-only; refuses anything without fairseq v0.6's ``args`` and ``model``."""
    check_is_torch_file(path)
    try:
        with torch.serialization.safe_globals(THEIR_TRAINER_TYPES):
            checkpoint = load_checkpoint_file(path)
    except CheckpointError:
        raise
    except Exception as error:
        # torch's loader of pre-1.6 files fails on damaged ones with whatever their bytes provoke (a KeyError, say)
        raise NotAnOfficialCheckpoint(
            f"{path} is damaged or not a PyTorch checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise NotAnOfficialCheckpoint(f"{path} is not a fairseq checkpoint: it has no 'model' state dict")
    if checkpoint.get("args") is None and checkpoint.get("cfg") is not None:
        raise NotAnOfficialCheckpoint(
            f"{path} is a checkpoint of fairseq 0.10 or newer (it has 'cfg', not 'args'), not the authors' v0.6 "
            f"format; if it is this plugin's, fairseq-generate --user-dir macaron_fairseq loads it as it is"
        )
    if not isinstance(checkpoint.get("args"), argparse.Namespace):
        raise NotAnOfficialCheckpoint(f"{path} is not a fairseq v0.6 checkpoint: it has no 'args' Namespace")
    return checkpoint


def check_is_torch_file(path):
    # Without this, text or other bytes reach the unpickler, whose complaint depends on the first byte.
    try:
        with open(path, "rb") as f:
            start = f.read(4)
    except OSError:
        return  # load_checkpoint_file names the cause: missing file, directory, no permission
    if not start.startswith(TORCH_FILE_STARTS):
        raise NotAnOfficialCheckpoint(f"{path} is not a PyTorch checkpoint: it starts with {start!r}")


def check_has_macaron_ffn(theirs):
    if not any(".macaron_fc1." in key for key in theirs["model"]):
        raise NotAMacaronCheckpoint(
            f"its architecture is {theirs['args'].arch} but its weights have no Macaron FFN (macaron_fc1)"
        )


def check_ffn_widths(args):
    # Their decoder sizes its first (Macaron) FFN by encoder_ffn_embed_dim, its second by
    # decoder_ffn_embed_dim; the plugin sizes both by decoder_ffn_embed_dim. Every preset has the two equal.
    if args.encoder_ffn_embed_dim != args.decoder_ffn_embed_dim:
        raise ShapeMismatch(
            f"its encoder_ffn_embed_dim ({args.encoder_ffn_embed_dim}) and decoder_ffn_embed_dim "
            f"({args.decoder_ffn_embed_dim}) differ: their decoder's first FFN is encoder_ffn_embed_dim wide, "
            f"and the plugin's decoder sizes both FFNs by decoder_ffn_embed_dim, so it cannot hold this model"
        )


def build_meta_model(args, weights):
    """The plugin's model for ``args`` on the meta device: names and shapes only, no memory, no initialization."""
    src_dict = dictionary_of_size(vocabulary_size(weights, "encoder.embed_tokens.weight"))
    tgt_dict = dictionary_of_size(vocabulary_size(weights, "decoder.embed_tokens.weight"))
    if args.share_all_embeddings and len(src_dict) == len(tgt_dict):
        tgt_dict = src_dict  # fairseq checks that a shared embedding has one dictionary
    task = TranslationTask(args, src_dict, tgt_dict)
    try:
        with torch.device("meta"):
            return task.build_model(args)
    except (ValueError, AssertionError, RuntimeError) as error:
        raise ShapeMismatch(f"fairseq cannot build {args.arch} with its arguments ({error})") from error


def vocabulary_size(weights, key):
    if key not in weights or weights[key].dim() != 2:
        raise ShapeMismatch(f"it has no {key} matrix to take the vocabulary size from")
    return weights[key].shape[0]


def dictionary_of_size(size):
    """A fairseq dictionary of ``size`` entries; only its length and special symbols matter to building a model."""
    dictionary = Dictionary()
    if size < len(dictionary):
        raise ShapeMismatch(f"its vocabulary has {size} entries, fewer than fairseq's {len(dictionary)} special ones")
    for index in range(len(dictionary), size):
        dictionary.add_symbol(f"madeupword{index:06d}")
    return dictionary


def check_weights_fit(weights, model, args):
    expected = {key: tuple(tensor.shape) for key, tensor in model.state_dict().items()}
    missing = [key for key in expected if key not in weights]
    unexpected = [key for key in weights if key not in expected]
    wrong_shape = [
        f"{key} is {tuple(weights[key].shape)}, not {shape}"
        for key, shape in expected.items()
        if key in weights and tuple(weights[key].shape) != shape
    ]
    problems = []
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} weights have the wrong shape ({first_few(wrong_shape)})")
    if missing:
        problems.append(f"{len(missing)} weights are missing ({first_few(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} weights are not in the model ({first_few(unexpected)})")
    if problems:
        layout = "pre-norm" if args.encoder_normalize_before else "post-norm"
        raise ShapeMismatch(
            f"its weights do not fit {layout} {args.arch} with its arguments (d={args.encoder_embed_dim}, "
            f"FFN {args.encoder_ffn_embed_dim}, {args.encoder_layers}+{args.decoder_layers} layers): "
            + "; ".join(problems)
        )


def fairseq_config(args):
    """``args`` as the configuration dictionary that fairseq-train writes into its checkpoints."""
    with warnings.catch_warnings():
        # Hydra warns, every time, about deprecated Hydra features that fairseq 0.12 itself uses.
        warnings.simplefilter("ignore", UserWarning)
        cfg = convert_namespace_to_omegaconf(args)
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def first_few(items, count=3):
    return ", ".join(items[:count]) + (", ..." if len(items) > count else "")


def training_record(theirs):
    """Their last optimizer_history entry without optimizer state: criterion, optimizer and number of updates.

    fairseq 0.12 needs one entry to load a checkpoint; the learning-rate scheduler state is left empty, since the
    optimizer state it belongs to is not carried over.
    """
    history = theirs.get("optimizer_history")
    last = history[-1] if isinstance(history, list) and history and isinstance(history[-1], dict) else {}
    num_updates = last.get("num_updates", 0)
    return {
        "criterion_name": str(last.get("criterion_name", "unknown")),
        "optimizer_name": str(last.get("optimizer_name", "unknown")),
        "lr_scheduler_state": {},
        "num_updates": num_updates if isinstance(num_updates, int) else 0,
    }
