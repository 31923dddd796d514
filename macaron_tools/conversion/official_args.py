"""The authors' training arguments (their fairseq v0.6 fork) as fairseq 0.12 arguments for this plugin.

Their architectures are fairseq presets with Macaron layers: ``transformer_wmt_en_de_macaron`` is the
``transformer_wmt_en_de`` preset with post-norm Macaron layers, ``transformer_wmt_en_de_macaron_v2`` the same with
pre-norm ones; this plugin's twin of a preset is ``macaron_<preset>``. fairseq 0.12's own option parser builds the
Namespace, so every option fairseq 0.12 expects is there with its default. Their hyperparameters go in as a
command line, before the plugin's preset fills in the rest, so their explicit values win over the preset's as
they do in fairseq.
"""

import re

from fairseq import options

import macaron_fairseq
from macaron_fairseq.models.macaron_transformer import BASELINE_TWINS
from macaron_tools import PLUGIN_DIR
from macaron_tools.conversion.errors import ConversionError, NotAMacaronCheckpoint

OFFICIAL_ARCH = re.compile(r"(?P<preset>transformer\w*?)_macaron(?P<v2>_v2)?")
"""Their architecture names: a fairseq preset, ``_macaron``, and ``_v2`` for pre-norm layers."""

MACARON_SWITCH_VALUES = (True, "new")
"""What their ``--macaron`` option holds in a model with Macaron layers."""

AUTHORS_FFN_SCALE = 0.5
"""Their layers compute ``residual + 0.5 * fc2(...)`` for both FFNs; the factor is not an option there."""

VALUE_OPTIONS = {
    "encoder_embed_dim": "--encoder-embed-dim",
    "encoder_ffn_embed_dim": "--encoder-ffn-embed-dim",
    "encoder_layers": "--encoder-layers",
    "encoder_attention_heads": "--encoder-attention-heads",
    "decoder_embed_dim": "--decoder-embed-dim",
    "decoder_ffn_embed_dim": "--decoder-ffn-embed-dim",
    "decoder_layers": "--decoder-layers",
    "decoder_attention_heads": "--decoder-attention-heads",
    "decoder_output_dim": "--decoder-output-dim",
    "activation_fn": "--activation-fn",
    "dropout": "--dropout",
    "attention_dropout": "--attention-dropout",
    "adaptive_softmax_cutoff": "--adaptive-softmax-cutoff",
    "adaptive_softmax_dropout": "--adaptive-softmax-dropout",
    "max_source_positions": "--max-source-positions",
    "max_target_positions": "--max-target-positions",
    "source_lang": "--source-lang",
    "target_lang": "--target-lang",
}
"""Their model hyperparameters that hold a value, and their language pair: attribute in their Namespace -> fairseq
0.12 option."""

UNPARSED_VALUES = ("decoder_input_dim",)
"""Their hyperparameters that fairseq 0.12 has no option for, though its presets set them and its models read them."""

SWITCHES = (
    "encoder_normalize_before",
    "decoder_normalize_before",
    "encoder_learned_pos",
    "decoder_learned_pos",
    "share_all_embeddings",
    "share_decoder_input_output_embed",
    "no_token_positional_embeddings",
)
"""Their on/off hyperparameters. Set after parsing: a command line can turn a switch on but not off, and a preset
may turn one on (``transformer_wmt_en_de_big_t2t`` turns pre-norm on)."""


def plugin_architecture(their_args):
    """``(plugin arch name, whether their name says pre-norm)`` for their ``args``; refuses non-Macaron models."""
    their_arch = getattr(their_args, "arch", None)
    match = OFFICIAL_ARCH.fullmatch(their_arch) if isinstance(their_arch, str) else None
    if match is None:
        raise NotAMacaronCheckpoint(
            f"its architecture is {their_arch!r}, not one of the authors' Macaron architectures "
            f"(transformer_..._macaron or transformer_..._macaron_v2)"
        )
    macaron_switch = getattr(their_args, "macaron", True)
    if macaron_switch not in MACARON_SWITCH_VALUES:
        raise NotAMacaronCheckpoint(
            f"its architecture is {their_arch} but its macaron option is {macaron_switch!r}, "
            f"not one of {MACARON_SWITCH_VALUES} that build Macaron layers"
        )
    arch = "macaron_" + match["preset"]
    if arch not in BASELINE_TWINS:
        raise ConversionError(
            f"its architecture {their_arch} is fairseq's {match['preset']} preset with Macaron layers, which this "
            f"plugin has no twin of; known: {', '.join(sorted(BASELINE_TWINS))}"
        )
    return arch, match["v2"] is not None


def plugin_training_args(their_args):
    """fairseq 0.12 training Namespace of the plugin's twin of their model, with their hyperparameters."""
    arch, v2 = plugin_architecture(their_args)
    command_line = [
        their_data_dir(their_args),
        "--user-dir", PLUGIN_DIR,
        "--task", "translation",
        "--arch", arch,
        "--macaron-ffn-scale", str(AUTHORS_FFN_SCALE),
    ]
    for attribute, option in VALUE_OPTIONS.items():
        value = getattr(their_args, attribute, None)
        if value is not None:
            command_line += [option, str(value)]
    activation_dropout = their_activation_dropout(their_args)
    if activation_dropout is not None:
        command_line += ["--activation-dropout", str(activation_dropout)]

    # fairseq's --user-dir loader skips a package that is already imported, as this one is here
    macaron_fairseq.register()
    args = parse_fairseq_command_line(command_line)
    for attribute in UNPARSED_VALUES:
        if getattr(their_args, attribute, None) is not None:
            setattr(args, attribute, getattr(their_args, attribute))
    for switch in SWITCHES:
        if hasattr(their_args, switch):
            setattr(args, switch, bool(getattr(their_args, switch)))
    if v2:
        # "_v2" is their pre-norm; their args always record it, but a name is enough to know.
        for switch in ("encoder_normalize_before", "decoder_normalize_before"):
            if not hasattr(their_args, switch):
                setattr(args, switch, True)
    return args


def their_data_dir(their_args):
    """Their binarized data directory, kept for the record; fairseq v0.6 stored a list of them."""
    data = getattr(their_args, "data", None)
    if isinstance(data, (list, tuple)):
        data = data[0] if data else None
    return str(data) if data else "data-bin"


def their_activation_dropout(their_args):
    """fairseq v0.6 called it relu_dropout; later v0.6 releases read activation_dropout, relu_dropout if that is 0."""
    activation_dropout = getattr(their_args, "activation_dropout", None)
    if activation_dropout:
        return activation_dropout
    return getattr(their_args, "relu_dropout", activation_dropout)


def parse_fairseq_command_line(command_line):
    parser = options.get_training_parser()

    def refuse(message):
        # argparse would print its usage and exit; their values are wrong, not the user's command.
        raise ConversionError(f"its arguments are not valid fairseq 0.12 options ({message})")

    parser.error = refuse
    return options.parse_args_and_arch(parser, input_args=command_line)
