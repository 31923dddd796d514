"""How far each layer of a trained pre-norm model is from the ODE flow of its own branches.

    python -m macaron_tools.probe.splitting --path CHECKPOINT [--path CHECKPOINT2] DATA_DIR
        [--subset valid] [--max-sentences N] [--json OUT.json] [--plot OUT.png]

A pre-norm layer runs sub-steps x <- x + c_k f_k(x), one per branch: the FFN F_k(x) = fc2(act(fc1(LN_k(x)))),
self-attention A(x) of LN_A(x), and in the decoder cross-attention C, with the encoder output as a fixed context.
They split the vector field V(x) = sum_k c_k f_k(x), and the layer is one splitting step of dx/dt = V(x), t from 0
to 1 (Lu et al. 2019). For each encoder and decoder layer, over the non-pad positions of the first N sentences, the
probe reports the mean of

- each sub-step's step size ||c_k f_k(x)|| / ||x||, x the sub-step's input;
- the splitting error ||layer(x) - Phi(x)|| / ||Phi(x) - x||, x the layer's input and Phi(x) the flow of V from
  t = 0 to 1 by classical Runge-Kutta (RK4) in 64 steps.

It runs with dropout off and the masks of the forward pass (padding; causal in the decoder), in float64. It reads
``macaron_transformer`` checkpoints of every ``--macaron-scheme`` and fairseq's ``transformer`` ones, whose layers
are Lie-Trotter steps (A, then C, then F, each c = 1); given two checkpoints, a baseline and its Macaron twin, it
puts them side by side.
"""

import argparse
import inspect
import logging
import os
import warnings
from dataclasses import dataclass, field

import torch
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase, TransformerEncoderLayerBase

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_fairseq.modules.macaron_layer import (
    EncoderAttentionSubStep,
    FeedForwardSubStep,
    SelfAttentionSubStep,
    SplittingLayer,
    bind_sub_steps,
)
from macaron_tools.files import require_writable_output, write_json

RK4_STEPS = 64
BATCH_SENTENCES = 16


def scheme_of(layer):
    """The splitting scheme a layer runs: its ``--macaron-scheme``, or Lie-Trotter for fairseq's own layers."""
    if isinstance(layer, SplittingLayer):
        return layer.scheme
    if isinstance(layer, (TransformerEncoderLayerBase, TransformerDecoderLayerBase)):
        return "lie-trotter"
    raise MacaronFairseqError(f"{type(layer).__name__} is not a transformer layer: the probe reads "
                              "macaron_transformer and transformer models")


def sub_steps_of(layer):
    """A layer's bound sub-steps in order: a Macaron layer's own, or bound here for fairseq's (each c = 1)."""
    if isinstance(layer, SplittingLayer):
        return layer.sub_steps()
    return bind_sub_steps(layer, scheme_of(layer), lambda sub_step: 1.0)


@dataclass
class Update:
    """x -> c_k f_k(x) of a pre-norm sub-step, its branch given the masks and context of the layer's call."""

    sub_step: torch.nn.Module
    context: dict

    def __call__(self, x):
        h = self.sub_step.norm(x)
        if isinstance(self.sub_step, FeedForwardSubStep):
            f = self.sub_step.branch(h)
        elif isinstance(self.sub_step, SelfAttentionSubStep):
            f = self.sub_step.branch(h, self.context["self_attn_padding_mask"], self.context["self_attn_mask"])
        else:
            assert isinstance(self.sub_step, EncoderAttentionSubStep)
            f, _ = self.sub_step.branch(h, self.context["encoder_out"], self.context["encoder_padding_mask"])
        return self.sub_step.coefficient * f


def vector_field(updates):
    """V(x) = sum_k c_k f_k(x) over a layer's sub-steps."""
    return lambda x: sum(update(x) for update in updates)


def rk4_flow(field_, x, steps=RK4_STEPS):
    """The flow of dx/dt = field_(x) from t = 0 to 1, by classical Runge-Kutta in ``steps`` steps."""
    h = 1.0 / steps
    for _ in range(steps):
        k1 = field_(x)
        k2 = field_(x + h / 2 * k1)
        k3 = field_(x + h / 2 * k2)
        k4 = field_(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def position_norm(x):
    """Euclidean norm of each position's vector: `(seq_len, batch, dim)` -> `(seq_len, batch)`."""
    return x.norm(dim=-1)


@dataclass
class LayerMeans:
    """Sums over non-pad positions, for means: of each sub-step's step size and of the splitting error."""

    stack: str
    index: int
    step_sizes: dict = field(default_factory=dict)
    splitting_error: float = 0.0
    positions: int = 0

    def add(self, updates, x, output, non_pad, rk4_steps=RK4_STEPS):
        """Adds one batch: the layer's sub-step updates, its input x, its output, and the `(seq_len, batch)` mask
        of non-pad positions."""
        layer_input = x
        for update in updates:
            delta = update(x)
            size = (position_norm(delta) / position_norm(x))[non_pad].sum().item()
            name = update.sub_step.name
            self.step_sizes[name] = self.step_sizes.get(name, 0.0) + size
            x = x + delta
        flow = rk4_flow(vector_field(updates), layer_input, rk4_steps)
        error = position_norm(output - flow) / position_norm(flow - layer_input)
        self.splitting_error += error[non_pad].sum().item()
        self.positions += int(non_pad.sum())

    def means(self):
        return {
            "stack": self.stack,
            "index": self.index,
            "step_sizes": {name: total / self.positions for name, total in self.step_sizes.items()},
            "splitting_error": self.splitting_error / self.positions,
        }


def non_pad_positions(padding_mask, x):
    """`(seq_len, batch)` mask of the positions that are not padding, from fairseq's `(batch, seq_len)` one."""
    if padding_mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    return ~padding_mask.t()


def layer_arguments(layer, args, kwargs):
    """A layer call's arguments by name, as its forward's signature binds them."""
    bound = inspect.signature(type(layer).forward).bind(layer, *args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def probe_layer(layer, args, kwargs):
    """(sub-step updates as functions of x, the layer's input, its `(seq_len, batch)` non-pad mask) of one layer
    call."""
    arguments = layer_arguments(layer, args, kwargs)
    x = arguments["x"]
    if "encoder_out" in arguments:
        context = {key: arguments[key] for key in ("encoder_out", "encoder_padding_mask", "self_attn_mask",
                                                   "self_attn_padding_mask")}
        non_pad = non_pad_positions(arguments["self_attn_padding_mask"], x)
    else:
        if arguments.get("attn_mask") is not None:
            raise MacaronFairseqError("the probe reads encoder layers called without attn_mask, as fairseq's encoder calls them")
        context = {"self_attn_padding_mask": arguments["encoder_padding_mask"], "self_attn_mask": None}
        non_pad = non_pad_positions(arguments["encoder_padding_mask"], x)
    updates = [Update(sub_step, context) for sub_step in sub_steps_of(layer)]
    return updates, x, non_pad


def probe_model(model, batches, rk4_steps=RK4_STEPS):
    """Step sizes and splitting error of every layer of ``model`` (an encoder-decoder of pre-norm layers) over
    ``batches`` of ``net_input`` dicts, Phi in ``rk4_steps`` steps; a list of :meth:`LayerMeans.means`, encoder
    layers first."""
    stacks = [("encoder", model.encoder.layers), ("decoder", model.decoder.layers)]
    for stack, layers in stacks:
        if not all(layer.normalize_before for layer in layers):
            raise MacaronFairseqError(
                f"the {stack} is post-norm: the probe reads pre-norm layers, whose sub-steps are x + c*f(x) "
                "(train with --encoder-normalize-before --decoder-normalize-before)")
    means = {(stack, i): LayerMeans(stack, i) for stack, layers in stacks for i in range(len(layers))}
    calls = {}

    def recorder(key):
        def record(layer, args, kwargs, output):
            calls[key] = (layer, args, kwargs, output[0] if isinstance(output, tuple) else output)
        return record

    hooks = [layer.register_forward_hook(recorder((stack, i)), with_kwargs=True)
             for stack, layers in stacks for i, layer in enumerate(layers)]
    model.eval()
    try:
        with torch.no_grad():
            for net_input in batches:
                calls.clear()
                model(**net_input)
                for key, (layer, args, kwargs, output) in calls.items():
                    updates, x, non_pad = probe_layer(layer, args, kwargs)
                    means[key].add(updates, x, output, non_pad, rk4_steps)
    finally:
        for hook in hooks:
            hook.remove()
    return [layer_means.means() for layer_means in means.values()]


def load_model(path, data_dir):
    """(model in float64, its config, its task with ``data_dir`` as data), loaded weights-only by the plugin."""
    from fairseq import checkpoint_utils

    import macaron_fairseq

    macaron_fairseq.register()  # the plugin's models, and its weights-only checkpoint loading
    if not os.path.isfile(path):
        raise MacaronFairseqError(f"no checkpoint file at {path}: pass --path a checkpoint that fairseq-train saved")
    with warnings.catch_warnings():  # hydra's deprecation notices about fairseq's own configuration
        warnings.simplefilter("ignore", UserWarning)
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([path], arg_overrides={"data": data_dir})
    return models[0].double(), cfg, task


def sentence_batches(task, subset, max_sentences):
    """The first ``max_sentences`` sentences of ``subset``, in file order, as ``net_input`` batches."""
    try:
        task.load_dataset(subset)
    except FileNotFoundError as error:
        raise MacaronFairseqError(f"{error} : pass --subset a split that fairseq-preprocess wrote") from None
    dataset = task.dataset(subset)
    count = min(max_sentences, len(dataset))
    batches = [dataset.collater([dataset[i] for i in range(start, min(start + BATCH_SENTENCES, count))])["net_input"]
               for start in range(0, count, BATCH_SENTENCES)]
    return batches, count


def probe_checkpoint(path, data_dir, subset, max_sentences):
    model, cfg, task = load_model(path, data_dir)
    batches, count = sentence_batches(task, subset, max_sentences)
    arch = getattr(cfg.model, "arch", type(model).__name__)
    return {"path": path, "arch": arch, "scheme": scheme_of(model.encoder.layers[0]),
            "layers": probe_model(model, batches)}, count


def label(i):
    return chr(ord("A") + i)


def format_table(checkpoints, subset, sentences):
    """One row per layer, the checkpoints side by side."""
    lines = [f"{label(i)}: {c['path']} ({c['arch']}, {c['scheme']})" for i, c in enumerate(checkpoints)]
    lines.append(f"{subset}, first {sentences} sentences, means over non-pad positions: step size "
                 f"||c*f(x)||/||x|| per sub-step; splitting error ||layer(x) - Phi(x)||/||Phi(x) - x||, "
                 f"Phi the RK4 flow of V = sum c*f in {RK4_STEPS} steps")
    rows = [["stack", "layer"] + [f"{label(i)}: {column}" for i in range(len(checkpoints))
                                  for column in ("splitting error", "step sizes")]]
    keys = sorted({(layer["stack"], layer["index"]) for c in checkpoints for layer in c["layers"]},
                  key=lambda key: (key[0] != "encoder", key[1]))
    for stack, index in keys:
        row = [stack, str(index)]
        for c in checkpoints:
            layer = next((layer for layer in c["layers"] if (layer["stack"], layer["index"]) == (stack, index)), None)
            if layer is None:
                row += ["-", "-"]
            else:
                row += [f"{layer['splitting_error']:.4f}",
                        "  ".join(f"{name} {size:.3f}" for name, size in layer["step_sizes"].items())]
        rows.append(row)
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    lines.append("")
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def plot(checkpoints, path):
    """Splitting error and step sizes per layer, one line per checkpoint (and sub-step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (errors, sizes) = plt.subplots(1, 2, figsize=(13, 4.5))
    for i, c in enumerate(checkpoints):
        ticks = [f"{layer['stack'][:3]} {layer['index']}" for layer in c["layers"]]
        style = ("-", "--", ":", "-.")[i % 4]
        errors.plot(ticks, [layer["splitting_error"] for layer in c["layers"]], style, marker="o",
                    label=f"{label(i)}: {c['arch']} ({c['scheme']})")
        for name in dict.fromkeys(name for layer in c["layers"] for name in layer["step_sizes"]):
            sizes.plot(ticks, [layer["step_sizes"].get(name, float("nan")) for layer in c["layers"]], style,
                       marker=".", label=f"{label(i)}: {name}")
    errors.set_ylabel("splitting error ||layer(x) - Phi(x)|| / ||Phi(x) - x||")
    sizes.set_ylabel("step size ||c f(x)|| / ||x||")
    for axes in (errors, sizes):
        axes.set_xlabel("layer")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    temporary = f"{path}.tmp{os.getpid()}.png"
    try:
        figure.savefig(temporary, dpi=110)
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        if os.path.exists(temporary):
            os.remove(temporary)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m macaron_tools.probe.splitting",
        description="Step sizes and splitting error (against the RK4 flow of the layer's vector field) of every "
                    "layer of pre-norm checkpoints, side by side.")
    parser.add_argument("--path", action="append", required=True, metavar="CHECKPOINT",
                        help="a checkpoint of macaron_transformer or transformer; give two to compare them")
    parser.add_argument("data", metavar="DATA_DIR", help="the fairseq-preprocess folder the models were trained on")
    parser.add_argument("--subset", default="valid", help="split to read (default: valid)")
    parser.add_argument("--max-sentences", type=int, default=100, metavar="N",
                        help="read the first N sentences of the split (default: 100)")
    parser.add_argument("--json", metavar="OUT", help="write the measurements to this JSON file")
    parser.add_argument("--plot", metavar="OUT.png", help="plot them to this PNG file")
    args = parser.parse_args(argv)
    if args.max_sentences < 1:
        parser.error(f"--max-sentences must be 1 or more, got {args.max_sentences}")
    if not os.path.isdir(args.data):
        parser.error(f"DATA_DIR {args.data} is not a folder: pass the fairseq-preprocess output of the models")
    # checked before the probe, which takes a minute or more, rather than lost with its result
    for option, output in (("--json", args.json), ("--plot", args.plot)):
        if output:
            require_writable_output(output, option)

    # Importing fairseq turns the root logger to DEBUG (its speech modules call basicConfig): keep the table alone.
    logging.getLogger().setLevel(logging.WARNING)
    checkpoints = []
    for path in args.path:
        checkpoint, sentences = probe_checkpoint(path, args.data, args.subset, args.max_sentences)
        checkpoints.append(checkpoint)
    print(format_table(checkpoints, args.subset, sentences))
    if args.json:
        write_json(args.json, {"subset": args.subset, "sentences": sentences, "rk4_steps": RK4_STEPS,
                               "checkpoints": checkpoints})
    if args.plot:
        plot(checkpoints, args.plot)
    return 0


if __name__ == "__main__":
    run_command(main)
