"""One-line errors for checkpoints that are missing or do not fit the model they are loaded into.

fairseq reports these deep in its loading code, as tracebacks whose last line is hard to act on:

- ``fairseq-generate``/``-interactive``/``-validate --path`` with a missing file: ``OSError: Model file not
  found``; with data whose dictionary is not the checkpoint's: a ``RuntimeError`` listing every embedding's
  size mismatch; with a checkpoint of an architecture nobody registered (trained with another ``--user-dir``):
  an ``AssertionError`` that prints the whole configuration, or an ``IndexError`` or ``KeyError`` raised while
  formatting it.
- ``fairseq-train`` resuming from a checkpoint of another architecture or dictionary size (restarting
  ``scripts/train.sh`` on a save dir another run wrote): ``Exception: Cannot load model parameters from
  checkpoint ...; please ensure that the architectures match``, the cause only in the chained traceback.
- ``fairseq-train --restore-file`` naming a file that does not exist: no error at all. fairseq logs "No existing
  checkpoint found" and trains from scratch, which a user notices days later.

Each becomes a :class:`CheckpointError` naming the file, the cause and the fix. The wrappers replace fairseq's
functions by module (or class) attribute (in :mod:`macaron_fairseq.fairseq_fixes`), as fairseq's commands look
them up when called; nothing is loaded from a file that fails these checks beyond what fairseq itself had already
read.
"""

import functools
import os
import re

from fairseq.file_io import PathManager
from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_REGISTRY

from macaron_fairseq.checkpoint.safe_load import (
    CheckpointError,
    architecture_of,
    checkpoint_error,
    load_checkpoint_file,
    task_of,
)

_MODEL_FILE_NOT_FOUND = "Model file not found: "
_STATE_DICT_MISMATCH = "Error(s) in loading state_dict"
_TRAINER_CANNOT_LOAD = "Cannot load model parameters from checkpoint"
_SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([\d, ]*)\]\) from checkpoint, "
    r"the shape in current model is torch\.Size\(\[([\d, ]*)\]\)"
)


def describe_state_dict_mismatch(message):
    """What torch's ``Error(s) in loading state_dict`` message says, in one clause."""
    sizes = _SIZE_MISMATCH.findall(message)
    for name, saved, current in sizes:
        saved_rows, current_rows = saved.split(",")[0], current.split(",")[0]
        is_vocabulary = name.endswith("embed_tokens.weight") or name.endswith("output_projection.weight")
        if is_vocabulary and saved_rows != current_rows:
            return (f"its dictionary has {saved_rows} entries and this data's has {current_rows} "
                    f"({name}): it was trained on other data")
    missing = _quoted_names_after("Missing key(s)", message)
    unexpected = _quoted_names_after("Unexpected key(s)", message)
    parts = []
    if missing:
        parts.append(f"it lacks {_some(missing)}")
    if unexpected:
        parts.append(f"it has {_some(unexpected)}, which this model does not")
    if sizes:
        name, saved, current = sizes[0]
        parts.append(f"{name} is [{saved}] in it and [{current}] in this model")
    return "; ".join(parts) or message.strip().splitlines()[0]


def _quoted_names_after(header, message):
    for line in message.splitlines():
        if header in line:
            return re.findall(r'"([^"]+)"', line)
    return []


def _some(names):
    if len(names) == 1:
        return names[0]
    return f"{names[0]} and {len(names) - 1} more parameter{'s' if len(names) > 2 else ''}"


def saved_architecture(path):
    """The ``--arch`` a checkpoint was trained with, or None where it cannot be read."""
    try:
        return architecture_of(load_checkpoint_file(path))
    except Exception:
        return None


LANGUAGE_MODEL_TASKS = ("language_modeling", "masked_lm")


def saved_task(path):
    """The ``--task`` a checkpoint was trained with, or None where it cannot be read."""
    try:
        return task_of(load_checkpoint_file(path))
    except Exception:
        return None


def _path_list(filenames):
    return filenames[0] if len(filenames) == 1 else "one of " + ", ".join(filenames)


SAVED_PATHS_NOT_FOLLOWED = {"encoder_embed_path": None, "decoder_embed_path": None}
"""Options of a saved model that name files to read when it is built: pretrained embeddings, which the checkpoint
already holds trained. Built from a checkpoint, the model would open whatever path the file names (a missing file,
or /dev/zero, read until memory runs out), so they are cleared."""


def explain_ensemble_errors(load_model_ensemble_and_task):
    """``load_model_ensemble_and_task``: its failures as one :class:`CheckpointError`; and the paths a checkpoint
    names (:data:`SAVED_PATHS_NOT_FOLLOWED`) are not followed."""

    @functools.wraps(load_model_ensemble_and_task)
    def load_model_ensemble_and_task_explained(filenames, arg_overrides=None, *args, **kwargs):
        given_overrides = arg_overrides or {}
        try:
            loaded = load_model_ensemble_and_task(filenames, {**given_overrides, **SAVED_PATHS_NOT_FOLLOWED}, *args,
                                                  **kwargs)
        except OSError as error:
            if not str(error).startswith(_MODEL_FILE_NOT_FOUND):
                raise
            path = str(error)[len(_MODEL_FILE_NOT_FOUND):]
            raise checkpoint_error(path, FileNotFoundError(path)) from error
        except RuntimeError as error:
            if _STATE_DICT_MISMATCH not in str(error):
                raise
            detail = describe_state_dict_mismatch(str(error))
            pruning = {key: value for key, value in given_overrides.items() if key.endswith("_layers_to_keep") and value}
            if pruning:
                raise CheckpointError(
                    f"checkpoint {_path_list(filenames)} does not fit the model once --model-overrides {pruning} "
                    f"prunes it: {detail}; fairseq's LayerDrop pruning drops every layer of a stack whose "
                    f"*_layers_to_keep is not given: give encoder_layers_to_keep and decoder_layers_to_keep both, "
                    f"as the 0-based layers to keep ('0,1')"
                ) from error
            task = saved_task(filenames[0])
            if task in LANGUAGE_MODEL_TASKS:
                raise CheckpointError(
                    f"checkpoint {filenames[0]} holds a language model (--task {task}, "
                    f"--arch {saved_architecture(filenames[0])}), not a model for this task: pass a checkpoint "
                    f"trained with the task you run (--task translation for translation)"
                ) from error
            raise CheckpointError(
                f"checkpoint {_path_list(filenames)} does not fit the model built for this data: "
                f"{detail}; pass the data directory it was trained with"
            ) from error
        except AttributeError as error:
            # the language modeling task asks the model for its targets, which only language models have
            if "supported_targets" not in str(error):
                raise
            raise CheckpointError(
                f"checkpoint {_path_list(filenames)} holds a {saved_architecture(filenames[0])} model, not a "
                f"language model: fairseq-eval-lm and --task language_modeling need one trained with that task "
                f"(e.g. --arch macaron_transformer_lm)"
            ) from error
        except (AssertionError, IndexError, KeyError) as error:
            # models.build_model asserts it knows the architecture, in a message whose own formatting can fail
            # (str.format on the configuration: an IndexError, or a KeyError when --eval-bleu-args holds JSON)
            for path in filenames:
                arch = saved_architecture(path)
                if arch is not None and arch not in ARCH_MODEL_REGISTRY and arch not in MODEL_REGISTRY:
                    raise CheckpointError(
                        f"checkpoint {path} holds a {arch} model, an architecture neither fairseq nor the --user-dir "
                        f"plugins define: pass the --user-dir of the plugin it was trained with"
                    ) from error
            raise
        refuse_language_models_for_other_tasks(filenames, loaded[0], loaded[2])  # the task given, or the saved one
        return loaded

    return load_model_ensemble_and_task_explained


def refuse_language_models_for_other_tasks(filenames, models, task):
    """A language model of the data's dictionary loads into a translation task without a word, and translates
    nothing: refused."""
    from fairseq.models import FairseqLanguageModel
    from fairseq.tasks.translation import TranslationTask

    if not isinstance(task, TranslationTask):
        return
    for path, model in zip(filenames, models):
        if isinstance(model, FairseqLanguageModel):
            raise CheckpointError(
                f"checkpoint {path} holds a language model (--task {saved_task(path)}, --arch "
                f"{saved_architecture(path)}), not a model for --task translation: pass a checkpoint trained with "
                f"--task translation")


def explain_resume_errors(load_checkpoint):
    @functools.wraps(load_checkpoint)
    def load_checkpoint_explained(trainer, filename, *args, **kwargs):
        try:
            return load_checkpoint(trainer, filename, *args, **kwargs)
        except CheckpointError:
            raise
        except Exception as error:
            if not str(error).startswith(_TRAINER_CANNOT_LOAD):
                raise
            cause = error.__context__
            detail = describe_state_dict_mismatch(str(cause)) if cause is not None else str(error)
            arch = getattr(trainer.cfg.model, "arch", None) or getattr(trainer.cfg.model, "_name", None)
            saved_arch = saved_architecture(filename)
            if saved_arch is not None and saved_arch != arch:
                detail = f"it holds a {saved_arch} model, not a {arch} ({detail})"
            raise CheckpointError(
                f"cannot resume from checkpoint {filename}: {detail}; resume with the architecture and data it was "
                f"trained with, or train into another --save-dir"
            ) from error

    return load_checkpoint_explained


def refuse_missing_start_checkpoints(load_checkpoint):
    """``checkpoint_utils.load_checkpoint``: a checkpoint the command line names must exist."""

    @functools.wraps(load_checkpoint)
    def load_checkpoint_if_named_files_exist(cfg, trainer, **passthrough_args):
        for option, path in named_start_checkpoints(cfg, trainer):
            if not PathManager.exists(path):
                relative_to = "" if os.path.isabs(path) else f" in {os.getcwd()}"
                raise CheckpointError(
                    f"{option} {path} does not exist{relative_to}: check the path (fairseq would silently "
                    f"train from scratch)"
                )
        return load_checkpoint(cfg, trainer, **passthrough_args)

    return load_checkpoint_if_named_files_exist


def named_start_checkpoints(cfg, trainer):
    """(option, path) of each checkpoint the command line names that fairseq would load now."""
    if cfg.restore_file != "checkpoint_last.pt":
        if cfg.finetune_from_model:
            return []  # fairseq refuses the pair itself
        path = cfg.restore_file
        if trainer.checkpoint_suffix:
            path = path.replace(".pt", trainer.checkpoint_suffix + ".pt")
        return [("--restore-file", path)]
    # Only the default, <save-dir>/checkpoint_last.pt, may be missing: that is a run's first start, when
    # --continue-once or --finetune-from-model names where to start from instead.
    last = os.path.join(cfg.save_dir, f"checkpoint_last{trainer.checkpoint_suffix}.pt")
    if PathManager.exists(last):
        return []
    if getattr(cfg, "continue_once", None) is not None:
        return [("--continue-once", cfg.continue_once)]
    if cfg.finetune_from_model is not None:
        return [("--finetune-from-model", cfg.finetune_from_model)]
    return []
