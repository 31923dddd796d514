"""The Macaron options of the language models: on the command line, and in the config their layers read.

They are ``macaron_transformer``'s (:class:`~macaron_fairseq.models.macaron_transformer.MacaronTransformerModel`),
which ``macaron_transformer_lm`` and ``macaron_roberta`` add to their baselines' options.
"""

from fairseq.models.transformer import TransformerConfig

from macaron_fairseq.modules.macaron_layer import DEFAULT_MACARON_FFN_SCALE
from macaron_fairseq.modules.splitting_scheme import DEFAULT_SCHEME, SCHEMES

MACARON_OPTIONS = ("macaron_ffn_scale", "macaron_scheme", "macaron_learnable_scale")
"""The keys of a model's options that the Macaron layers read."""

FFN_SCALE_HELP = (
    f"scale of each FFN half step of the strang schemes, x + S*FFN(x) (default: {DEFAULT_MACARON_FFN_SCALE}, "
    "the half step of Strang-Marchuk splitting)"
)
SCHEME_HELP = (
    f"order of each layer's sub-steps (default: {DEFAULT_SCHEME}, FFN/2 -> attention -> FFN/2 with two "
    "half-width FFNs; strang-tied: one full-width FFN run as both half steps; lie-trotter: attention -> FFN, "
    "fairseq's layer; reversed-lie-trotter: FFN -> attention)"
)
LEARNABLE_SCALE_HELP = (
    "learn each sub-step's coefficient, one scalar per sub-step and layer (<sub-step>_step in the checkpoint), "
    "initialised at the scheme's: the FFN half step S, else 1"
)


def add_macaron_args(parser):
    # checked by the architecture, whose errors are one line: argparse's print the usage first
    parser.add_argument("--macaron-ffn-scale", type=float, metavar="S", help=FFN_SCALE_HELP)
    parser.add_argument("--macaron-scheme", metavar="{" + ",".join(SCHEMES) + "}", help=SCHEME_HELP)
    parser.add_argument("--macaron-learnable-scale", action="store_true", help=LEARNABLE_SCALE_HELP)


def macaron_transformer_config(args):
    """fairseq's ``TransformerConfig.from_namespace(args)``, with the Macaron options.

    ``from_namespace`` keeps the keys it does not know from an argparse Namespace, but not from the DictConfig that
    fairseq-train passes a model configured by a dataclass (``macaron_transformer_lm``), so they are carried over
    here: the layers would otherwise take their defaults without a word.
    """
    cfg = TransformerConfig.from_namespace(args)
    for key in MACARON_OPTIONS:
        value = getattr(args, key, None)
        if value is not None:  # no scale under a scheme without half steps
            setattr(cfg, key, value)
    return cfg
