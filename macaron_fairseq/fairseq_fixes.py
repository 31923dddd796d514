"""Every change the plugin makes to fairseq, torch and the interpreter, and the one function that makes them.

:data:`FIXES` lists them: for each, what it replaces, what goes wrong without it, and the fairseq or torch
behaviour it works around. Their logic lives in the modules named there; this module only puts them in place.
:func:`apply_fixes` applies them all and is safe to call again: :func:`patch` marks each function it puts in place
with :data:`PATCHED_BY` and leaves a function so marked as it is, so each is wrapped once. fairseq's commands look
every patched function up by its module (or class) attribute when they call it, which is where it is replaced.

Targets and wrappers are named by their dotted paths and imported when applied, so that importing this module
imports neither fairseq nor torch: :data:`ONE_LINE_ERRORS` serves the tools that need neither.

:data:`ONE_LINE_ERRORS` stands apart from :data:`FIXES`: it changes the process, not fairseq, so it is applied only
in a process that is a command.
"""

import dataclasses
import inspect
import os
import pkgutil
import types

PATCHED_BY = "macaron_fairseq_patched_by"
"""Attribute of a function :func:`patch` put in place: the dotted name of the wrapper that made it."""


def patch(owner, name, wrapper):
    """Replaces ``owner.name`` by ``wrapper(owner.name)``, unless it already is that replacement."""
    if is_patched(owner, name, wrapper):
        return
    replacement = wrapper(getattr(owner, name))
    setattr(replacement, PATCHED_BY, _dotted_name(wrapper))
    if isinstance(inspect.getattr_static(owner, name), staticmethod):
        replacement = staticmethod(replacement)  # or the class would pass its instance as the first argument
    setattr(owner, name, replacement)


def is_patched(owner, name, wrapper):
    return getattr(getattr(owner, name), PATCHED_BY, None) == _dotted_name(wrapper)


def _dotted_name(function):
    return f"{function.__module__}.{function.__qualname__}"


@dataclasses.dataclass(frozen=True)
class Wrap:
    """The function at ``target`` replaced by ``wrapper(function)``."""

    target: str
    wrapper: str
    fixes: str
    works_around: str

    def owner_and_name(self):
        owner, _, name = self.target.rpartition(".")
        return pkgutil.resolve_name(owner), name

    def apply(self):
        patch(*self.owner_and_name(), pkgutil.resolve_name(self.wrapper))

    def is_applied(self):
        return is_patched(*self.owner_and_name(), pkgutil.resolve_name(self.wrapper))


@dataclasses.dataclass(frozen=True)
class AllowForWeightsOnlyLoads:
    """The types at ``types`` added to torch's process-wide allow-list of what a weights-only load may unpickle."""

    types: str
    fixes: str
    works_around: str
    target = "torch.serialization.get_safe_globals()"

    def apply(self):
        import torch

        torch.serialization.add_safe_globals(list(pkgutil.resolve_name(self.types)))  # a set: no duplicates

    def is_applied(self):
        import torch

        allowed = torch.serialization.get_safe_globals()
        return all(allowed_type in allowed for allowed_type in pkgutil.resolve_name(self.types))


@dataclasses.dataclass(frozen=True)
class AddMissingAttribute:
    """The object at ``value`` set as the attribute at ``target``, where its owner lacks it (and only there)."""

    target: str
    value: str
    fixes: str
    works_around: str

    def owner_and_name(self):
        owner, _, name = self.target.rpartition(".")
        return pkgutil.resolve_name(owner), name

    def apply(self):
        owner, name = self.owner_and_name()
        if not hasattr(owner, name):
            setattr(owner, name, pkgutil.resolve_name(self.value))

    def is_applied(self):
        return hasattr(*self.owner_and_name())


@dataclasses.dataclass(frozen=True)
class SetEnvironment:
    """The environment variable ``name`` set to ``value`` in this process, where it is unset."""

    name: str
    value: str
    fixes: str
    works_around: str

    @property
    def target(self):
        return f"os.environ[{self.name!r}]"

    def apply(self):
        os.environ.setdefault(self.name, self.value)

    def is_applied(self):
        return self.name in os.environ


NUMPY_1_COMPAT_LONG = types.SimpleNamespace(long=int)
"""The one name of numpy 1.x's ``numpy.compat`` that fairseq uses, as numpy 1.x defined it: ``long``, Python's int."""

ONE_LINE_ERRORS = Wrap(
    "sys.excepthook", "macaron_fairseq.errors.print_one_line",
    fixes="this project's errors reaching the top of a command (fairseq's with the plugin, or one of "
          "python -m macaron_tools.*), and fairseq's own refusals of a command line (no --max-tokens or "
          "--batch-size, no --path, no --optimizer, a --gen-subset the data lacks: errors.FAIRSEQ_REFUSALS), print "
          "as a traceback",
    works_around="Python prints any exception that reaches the top of a program as a traceback; fairseq's console "
                 "scripts catch none, and check many options with assert",
)
"""The one change to the process rather than to fairseq: applied only where the process is a command, one of
fairseq's (:func:`macaron_fairseq.register`) or one of the tools' (:func:`macaron_fairseq.errors.run_command`);
never in a notebook or program that merely imports the plugin."""

HYDRA_ERRORS_TO_THE_HOOK = SetEnvironment(
    "HYDRA_FULL_ERROR", "1",
    fixes="fairseq-hydra-train prints a refusal of the plugin's (model.macaron_scheme=bogus) as a traceback, "
          "followed by 'Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace'",
    works_around="hydra's run_and_report catches every exception of the job and prints it itself, unless "
                  "HYDRA_FULL_ERROR is set, when it re-raises it to the exception hook (ONE_LINE_ERRORS)",
)

COMMAND_FIXES = (ONE_LINE_ERRORS, HYDRA_ERRORS_TO_THE_HOOK)
"""What :func:`macaron_fairseq.register` applies when the process is one of fairseq's commands."""

FIXES = (
    AllowForWeightsOnlyLoads(
        "macaron_fairseq.checkpoint.safe_load.FAIRSEQ_CHECKPOINT_TYPES",
        fixes="every checkpoint fairseq saved fails to load (Unsupported global: GLOBAL argparse.Namespace)",
        works_around="fairseq 0.12 calls torch.load without weights_only, which is True by default since torch 2.6",
    ),
    Wrap(
        "fairseq.checkpoint_utils.load_checkpoint_to_cpu", "macaron_fairseq.checkpoint.safe_load.refuse_unsafe_loads",
        fixes="a checkpoint damaged on disk loads with wrong weights; a missing, refused or unreadable one fails "
              "with a traceback",
        works_around="torch.load does not check the CRC-32 of the archive's records; fairseq 0.12 passes its "
                     "errors on as they are",
    ),
    Wrap(
        "fairseq.file_io.PathManager.copy", "macaron_fairseq.checkpoint.atomic_save.copy_then_rename",
        fixes="a run killed while copying a saved checkpoint to checkpoint_last.pt leaves it truncated, and the "
              "restart fails on it",
        works_around="fairseq 0.12's save_checkpoint copies with ioPath's copy, a shutil.copyfile onto the old file",
    ),
    Wrap(
        "fairseq.checkpoint_utils.torch_persistent_save", "macaron_fairseq.checkpoint.atomic_save.save_once_then_rename",
        fixes="saving a checkpoint on a full or read-only disk retries for 5 s, ends in tracebacks and leaves NAME.tmp "
              "as large as the checkpoint",
        works_around="fairseq 0.12's torch_persistent_save retries torch.save three times and never removes its "
                     ".tmp file; the trainer calls it by this name",
    ),
    Wrap(
        "fairseq.distributed.utils._broadcast_object_slow",
        "macaron_fairseq.checkpoint.broadcast_load.receive_weights_only",
        fixes="every resumed multi-process run stops on rank 1 (Unsupported global: GLOBAL "
              "omegaconf.dictconfig.DictConfig); broadcast_object and broadcast_tensors call it by this name",
        works_around="fairseq 0.12 unpickles the broadcast checkpoint state with torch.load, weights-only since "
                     "torch 2.6",
    ),
    Wrap(
        "fairseq.checkpoint_utils.load_model_ensemble_and_task",
        "macaron_fairseq.checkpoint.load_errors.explain_ensemble_errors",
        fixes="fairseq-generate/-interactive/-validate --path with a missing file, data of another dictionary or an "
              "unregistered architecture fail with a traceback",
        works_around="fairseq 0.12's OSError, state-dict RuntimeError and AssertionError deep in its loading code",
    ),
    Wrap(
        "fairseq.trainer.Trainer.load_checkpoint", "macaron_fairseq.checkpoint.load_errors.explain_resume_errors",
        fixes="fairseq-train resuming from a checkpoint of another architecture or dictionary fails with a "
              "traceback whose cause is only in the chained exception",
        works_around="fairseq 0.12's 'Cannot load model parameters from checkpoint' exception",
    ),
    Wrap(
        "fairseq.checkpoint_utils.load_checkpoint",
        "macaron_fairseq.checkpoint.load_errors.refuse_missing_start_checkpoints",
        fixes="fairseq-train --restore-file or --continue-once naming a missing file trains from scratch without an "
              "error; --finetune-from-model naming one fails with a ValueError traceback. A change to fairseq's "
              "contract, kept on purpose: a typo that silently starts from scratch loses days of work",
        works_around="fairseq 0.12 logs 'No existing checkpoint found' and goes on",
    ),
    AddMissingAttribute(
        "fairseq.tasks.fairseq_task.FairseqTask.get_checkpoint_dict",
        "macaron_fairseq.checkpoint.patience.get_checkpoint_dict",
        fixes="fairseq-train --patience restarted from checkpoint_last.pt forgets how many validations it has "
              "already gone without improving, and trains up to that many longer than the run uninterrupted",
        works_around="fairseq 0.12's should_stop_early keeps its count on itself, and no checkpoint saves it; "
                     "save_checkpoint saves what a task's get_checkpoint_dict returns, which no task defines",
    ),
    AddMissingAttribute(
        "fairseq.tasks.fairseq_task.FairseqTask.set_checkpoint_dict",
        "macaron_fairseq.checkpoint.patience.set_checkpoint_dict",
        fixes="the other half of get_checkpoint_dict: the saved --patience count is put back on resume",
        works_around="fairseq 0.12's load_checkpoint hands a task its saved state through set_checkpoint_dict, "
                     "which no task defines",
    ),
    Wrap(
        "fairseq.data.data_utils.batch_by_size", "macaron_fairseq.data.batching.keep_last_batch",
        fixes="every pass over a dataset whose size is not a multiple of --required-batch-size-multiple skips its "
              "last batch, the longest sentences; fairseq-generate scores what is left without a word",
        works_around="fairseq's main branch since December 2022 and fairseq-fixed 0.12.3.1 (not the v0.12.2 tag) "
                     "drop a last batch that is not a full multiple",
    ),
    AddMissingAttribute(
        "numpy.compat", "macaron_fairseq.fairseq_fixes.NUMPY_1_COMPAT_LONG",
        fixes="fairseq-train --task language_modeling --sample-break-mode eos (TokenBlockDataset), and translation "
              "with --num-batch-buckets (LanguagePairDataset), fail with AttributeError: module 'numpy' has no "
              "attribute 'compat'",
        works_around="fairseq 0.12 asks for np.compat.long, which numpy 2.0 removed; only that name is provided, "
                     "and nothing changes under numpy 1.x, which has it",
    ),
    Wrap(
        "fairseq.data.dictionary.Dictionary.add_from_file",
        "macaron_fairseq.data.data_bin_errors.explain_dictionary_errors",
        fixes="a dictionary with a line that has no count, a repeated word or bytes that are not UTF-8 fails with a "
              "traceback that names no line; a missing one (a data folder without dict.txt given to --task "
              "language_modeling, or a folder that does not exist) with a FileNotFoundError traceback; one of "
              "millions of lines (a corpus given as a dictionary) after minutes, allocating gigabytes",
        works_around="fairseq 0.12's ValueError, RuntimeError, FileNotFoundError and 'Incorrect encoding detected' "
                     "Exception, and no check of a dictionary's size",
    ),
    Wrap(
        "fairseq.data.data_utils.infer_language_pair", "macaron_fairseq.data.data_bin_errors.require_data_folder",
        fixes="fairseq-train/-generate/-interactive --task translation without --source-lang and --target-lang, "
              "given a data folder that does not exist or holds no binarized split, fail with a traceback",
        works_around="fairseq 0.12 lists the folder without checking it (FileNotFoundError), or raises 'Could not "
                     "infer language pair'; TranslationTask.setup_task calls infer_language_pair by this name",
    ),
    Wrap(
        "fairseq.tasks.translation.load_langpair_dataset", "macaron_fairseq.data.data_bin_errors.name_missing_split_files",
        fixes="a data folder that lacks a split's files (valid.de-en.de.idx) is reported as 'Dataset not found: valid', "
              "which names no file",
        works_around="fairseq 0.12's load_langpair_dataset; TranslationTask.load_dataset calls it by this name",
    ),
    Wrap(
        "fairseq.checkpoint_utils.verify_checkpoint_directory",
        "macaron_fairseq.checkpoint.save_dir.explain_save_dir_errors",
        fixes="fairseq-train with a --save-dir that is a file, lies inside one or cannot be written fails with a "
              "traceback",
        works_around="fairseq 0.12 re-raises the OSError of its test write; fairseq_cli.train calls "
                     "verify_checkpoint_directory by this name",
    ),
    Wrap(
        "fairseq.sequence_generator.SequenceGenerator.__init__", "macaron_fairseq.option_checks.refuse_empty_beam",
        fixes="--beam 0 (or below) fails with a RuntimeError traceback from inside beam search",
        works_around="fairseq 0.12 passes --beam to SequenceGenerator unchecked",
    ),
    Wrap(
        "fairseq.trainer.Trainer._build_optimizer", "macaron_fairseq.option_checks.refuse_bad_learning_rate",
        fixes="--lr -0.01 trains by gradient ascent and exits 0; --lr nan or inf trains on NaNs",
        works_around="fairseq 0.12 passes --lr to the optimizer unchecked",
    ),
    Wrap(
        "fairseq.trainer.Trainer.clip_grad_norm", "macaron_fairseq.option_checks.stop_on_divergence",
        fixes="a run that diverges (--lr 1e9) ends in two chained tracebacks (the last a StopIteration from its NaN "
              "detector) and leaves a crash.pt as large as a checkpoint",
        works_around="fairseq 0.12's train_step raises FloatingPointError on a non-finite gradient norm, saves "
                     "crash.pt and re-runs the batch under NanDetector",
    ),
    Wrap(
        "fairseq.modules.fairseq_dropout.FairseqDropout.make_generation_fast_",
        "macaron_fairseq.retain_dropout.match_twin_names",
        fixes="--retain-dropout-modules TransformerEncoder (fairseq's names, as its docs give them) silently keeps no "
              "dropout in a Macaron model, whose modules are named MacaronTransformerEncoder",
        works_around="fairseq 0.12 matches a module's class name exactly",
    ),
    Wrap(
        "fairseq.data.token_block_dataset.TokenBlockDataset.__init__",
        "macaron_fairseq.option_checks.refuse_empty_blocks",
        fixes="--tokens-per-sample 0 (language modelling) fails with a ZeroDivisionError traceback",
        works_around="fairseq 0.12 passes --tokens-per-sample to TokenBlockDataset unchecked",
    ),
    Wrap(
        "fairseq.data.indexed_dataset.make_dataset", "macaron_fairseq.data.data_bin_errors.check_data_files",
        fixes="a .bin file cut short fails, once a batch reaches its end, with a traceback that names no file "
              "(ValueError: offset must be non-negative); a damaged .idx file, with a numpy or struct error",
        works_around="fairseq 0.12 maps the .bin file without checking that it holds what its .idx file indexes; "
                     "data_utils.load_indexed_dataset calls make_dataset by this name",
    ),
)
"""Every change the plugin makes, in the order :func:`apply_fixes` applies them."""


def apply_fixes():
    """Applies every fix in :data:`FIXES`; applying them again changes nothing."""
    for fix in FIXES:
        fix.apply()
