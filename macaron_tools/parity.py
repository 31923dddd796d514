"""The parameters of every Macaron architecture against its fairseq baseline twin's, as a Markdown table.

    python -m macaron_tools.parity [--dictionary-size 50000]

Each twin is built as fairseq-train builds it, from its ``--arch`` alone, with weights on the meta device (no
memory, no initialisation): translation with one joined dictionary and ``--share-all-embeddings``, the language
models and RoBERTa with a dictionary of the same size. A Macaron layer holds the baseline's parameters plus one
LayerNorm (2·d) and one FFN output bias (d), so the twin's excess is 3·d per layer whatever the dictionary; the
dictionary sets only the baseline's size, and with it the excess in per cent.
"""

import argparse
import contextlib
import logging
from unittest import mock

import torch
from fairseq import options
from fairseq.data import Dictionary
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase, TransformerEncoderLayerBase
from fairseq.tasks.language_modeling import LanguageModelingTask
from fairseq.tasks.masked_lm import MaskedLMTask
from fairseq.tasks.translation import TranslationTask

import macaron_fairseq
from macaron_fairseq.models import macaron_roberta, macaron_transformer, macaron_transformer_lm
from macaron_fairseq.errors import run_command

DEFAULT_DICTIONARY_SIZE = 50_000
WIKITEXT103_DICTIONARY_SIZE = 267_744
"""WikiText-103's vocabulary, for the wiki103 preset when the dictionary is too small for its adaptive cutoffs."""
WIKITEXT103_LAST_CUTOFF = 60_000
"""The last cutoff of the wiki103 preset's adaptive input and softmax: its dictionary must hold more symbols."""
SMALLEST_DICTIONARY_SIZE = 5
"""fairseq's four special symbols and RoBERTa's ``<mask>``."""


def translation_task(args, dictionary):
    return TranslationTask(args, dictionary, dictionary)


def language_modeling_task(args, dictionary):
    return LanguageModelingTask(args, dictionary, dictionary)


def masked_lm_task(args, dictionary):
    return MaskedLMTask(args, dictionary)  # adds <mask>, the dictionary's last symbol


FAMILIES = {
    "translation": (macaron_transformer.BASELINE_TWINS, translation_task,
                    ["--task", "translation", "--source-lang", "de", "--target-lang", "en",
                     "--share-all-embeddings"]),
    "language_modeling": (macaron_transformer_lm.BASELINE_TWINS, language_modeling_task,
                          ["--task", "language_modeling"]),
    "masked_lm": (macaron_roberta.BASELINE_TWINS, masked_lm_task, ["--task", "masked_lm"]),
}
"""Each task's twins ({Macaron arch: (baseline arch, preset)}), how its task is built, and its flags."""


def dictionary_of(size, task_name):
    """A dictionary of ``size`` symbols, fairseq's special ones included (and ``<mask>``, added by masked_lm)."""
    dictionary = Dictionary()
    for i in range(size - len(dictionary) - (task_name == "masked_lm")):
        dictionary.add_symbol(f"w{i}")
    return dictionary


@contextlib.contextmanager
def bert_init_skipped():
    """RoBERTa's initialisation draws its numbers on the CPU and copies them back (fairseq's, for FSDP), which a
    meta tensor cannot do; a parameter count needs no values."""
    skip = lambda module: None  # noqa: E731
    with mock.patch("fairseq.models.roberta.model.init_bert_params", skip), \
            mock.patch.object(macaron_roberta, "init_bert_params", skip):
        yield


def build_model(arch, task_name, dictionary, *flags, device="meta"):
    """(model, args) of ``arch`` under ``task_name``, built as fairseq-train builds it from ``flags``."""
    _, make_task, task_flags = FAMILIES[task_name]
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, ["unused-data-dir", *task_flags, "--arch", arch, *map(str, flags)])
    with torch.device(device), bert_init_skipped() if device == "meta" else contextlib.nullcontext():
        return make_task(args, dictionary).build_model(args), args


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def transformer_layers(model):
    return [m for m in model.modules() if isinstance(m, (TransformerEncoderLayerBase, TransformerDecoderLayerBase))]


def parity_row(macaron_arch, task_name, dictionary):
    """The parameter counts of ``macaron_arch`` and its baseline twin, built with ``dictionary``."""
    baseline_arch, _ = FAMILIES[task_name][0][macaron_arch]
    macaron, _ = build_model(macaron_arch, task_name, dictionary)
    baseline, _ = build_model(baseline_arch, task_name, dictionary)
    layers = transformer_layers(macaron)
    return {
        "task": task_name,
        "macaron_arch": macaron_arch,
        "baseline_arch": baseline_arch,
        "dictionary_size": len(dictionary),
        "layers": len(layers),
        "embed_dims": sorted({layer.embed_dim for layer in layers}),
        "baseline_parameters": parameter_count(baseline),
        "excess": parameter_count(macaron) - parameter_count(baseline),
    }


def dictionary_size_for(macaron_arch, dictionary_size):
    if "wiki103" in macaron_arch and dictionary_size <= WIKITEXT103_LAST_CUTOFF:
        return WIKITEXT103_DICTIONARY_SIZE
    return dictionary_size


def parity_rows(dictionary_size):
    """One row per twin, in the order of each task's table; dictionaries are built once per size and task."""
    rows, dictionaries = [], {}
    for task_name, (twins, _, _) in FAMILIES.items():
        for macaron_arch in twins:
            size = dictionary_size_for(macaron_arch, dictionary_size)
            if (size, task_name) not in dictionaries:
                dictionaries[size, task_name] = dictionary_of(size, task_name)
            rows.append(parity_row(macaron_arch, task_name, dictionaries[size, task_name]))
    return rows


def format_table(rows, dictionary_size):
    lines = [
        f"Parameters with a dictionary of {dictionary_size:,} symbols (translation: one joined dictionary, "
        "--share-all-embeddings)",
        "",
        "| task | Macaron architecture | baseline twin (fairseq) | layers × d | baseline parameters | excess "
        "| excess (%) |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    notes = set()
    for row in rows:
        baseline = f"{row['baseline_parameters']:,}"
        if row["dictionary_size"] != dictionary_size:
            baseline += " ¹"
            notes.add(row["dictionary_size"])
        dims = "/".join(str(d) for d in row["embed_dims"])
        lines.append(
            f"| {row['task']} | `{row['macaron_arch']}` | `{row['baseline_arch']}` | {row['layers']} × {dims} "
            f"| {baseline} | +{row['excess']:,} | +{100 * row['excess'] / row['baseline_parameters']:.4f} |"
        )
    for size in sorted(notes):
        lines += ["", f"¹ with {size:,} symbols, WikiText-103's vocabulary: the preset's adaptive input and softmax "
                      f"cut the dictionary at 20,000 and {WIKITEXT103_LAST_CUTOFF:,}."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m macaron_tools.parity",
        description="The parameters of every Macaron architecture and its fairseq baseline twin, as a Markdown "
                    "table; each Macaron layer adds 3·d.")
    parser.add_argument("--dictionary-size", type=int, default=DEFAULT_DICTIONARY_SIZE, metavar="N",
                        help=f"symbols in the dictionary, fairseq's special ones included "
                             f"(default: {DEFAULT_DICTIONARY_SIZE:,})")
    args = parser.parse_args(argv)
    if args.dictionary_size < SMALLEST_DICTIONARY_SIZE:
        parser.error(f"--dictionary-size must be at least {SMALLEST_DICTIONARY_SIZE} (fairseq's 4 special symbols "
                     f"and RoBERTa's <mask>), got {args.dictionary_size}")
    # Importing fairseq turns the root logger to DEBUG (its speech modules call basicConfig): keep the table alone.
    logging.getLogger().setLevel(logging.WARNING)
    macaron_fairseq.register()
    print(format_table(parity_rows(args.dictionary_size), args.dictionary_size))
    return 0


if __name__ == "__main__":
    run_command(main)
