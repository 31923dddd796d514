"""Average the parameters of several checkpoints of one training run into a checkpoint fairseq-generate loads.

    python -m macaron_tools.average_checkpoints --inputs checkpoint_9_9000.pt checkpoint_9_8000.pt ... --output avg.pt

Checkpoints load weights-only (see :mod:`macaron_fairseq.checkpoint.safe_load`). Parameters are summed in float64,
so that averaging many fp16 or fp32 checkpoints loses nothing to rounding, and cast back to their own type. Tensors
that are not floating point (counters, masks) cannot be averaged and are taken from the first checkpoint. Everything
besides the parameters (configuration, training state) is the first checkpoint's: list the newest first to keep
its number of updates.
"""

import argparse
import os

import torch

from macaron_fairseq.checkpoint.safe_load import CheckpointError, load_checkpoint_file
from macaron_fairseq.errors import run_command
from macaron_tools.files import atomic_path, require_input_file, require_writable_output


def model_parameters(state, path):
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} is not a fairseq checkpoint (it has no 'model' parameters): name a .pt file "
                              f"that fairseq-train wrote")
    return state["model"]


def check_same_model(reference, reference_path, other, other_path):
    """Refuses parameters of another model: different names or shapes."""
    missing, extra = sorted(reference.keys() - other.keys()), sorted(other.keys() - reference.keys())
    if missing or extra:
        name, where = (missing[0], f"lacks {missing[0]}") if missing else (extra[0], f"has {extra[0]}")
        differing = len(missing) + len(extra)
        raise CheckpointError(
            f"{other_path} {where}, unlike {reference_path}"
            + (f" ({differing - 1} more parameter names differ)" if differing > 1 else "")
            + ": average checkpoints of one training run only"
        )
    for name, tensor in reference.items():
        if tuple(other[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{name} is {list(other[name].shape)} in {other_path} but {list(tensor.shape)} in {reference_path}: "
                f"average checkpoints of one training run only"
            )


def average_checkpoints(paths):
    """The first checkpoint of ``paths`` with its parameters replaced by the mean over all of them."""
    if not paths:
        raise CheckpointError("no checkpoints to average: name at least one")
    first = load_checkpoint_file(paths[0])
    first_parameters = model_parameters(first, paths[0])
    sums = {
        name: tensor.to(torch.float64, copy=True)
        for name, tensor in first_parameters.items() if tensor.is_floating_point()
    }
    for path in paths[1:]:
        parameters = model_parameters(load_checkpoint_file(path), path)
        check_same_model(first_parameters, paths[0], parameters, path)
        for name, total in sums.items():
            total += parameters[name].to(torch.float64)
    averaged = {
        name: (sums[name] / len(paths)).to(tensor.dtype) if name in sums else tensor
        for name, tensor in first_parameters.items()
    }
    return {**first, "model": averaged}


def save_checkpoint(state, path):
    """``torch.save``, whole or not at all: a crash leaves no truncated checkpoint behind."""
    # through a file object: torch.save given a name reports a full disk as an opaque RuntimeError of its C++
    # writer, not as the OSError that atomic_path turns into one line
    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        torch.save(state, f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", nargs="+", required=True, metavar="CHECKPOINT", help="checkpoints, newest first")
    parser.add_argument("--output", required=True, help="the averaged checkpoint to write")
    args = parser.parse_args(argv)
    if os.path.abspath(args.output) in {os.path.abspath(p) for p in args.inputs}:
        parser.error("--output is one of --inputs: write the average to a new file")
    for path in args.inputs:
        require_input_file(path, "--inputs", "a checkpoint fairseq-train saved (a .pt file of its --save-dir)",
                           missing_fix="check the path or train the model first")
    require_writable_output(args.output, "--output")
    save_checkpoint(average_checkpoints(args.inputs), args.output)
    print(f"averaged {len(args.inputs)} checkpoints into {args.output}")
    return 0


if __name__ == "__main__":
    run_command(main)
