"""The ``macaron_transformer_lm`` model: fairseq's ``transformer_lm`` with Macaron layers.

A language model's layers are decoder layers without encoder attention, so each Macaron layer runs half an FFN
step, self-attention, half an FFN step. Each architecture below is a fairseq ``transformer_lm`` preset with its
FFN's inner width halved under the strang scheme, as in :mod:`macaron_fairseq.models.macaron_transformer`.
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq import options
from fairseq.models import ARCH_CONFIG_REGISTRY, register_model, register_model_architecture
from fairseq.models.transformer_lm import (
    DEFAULT_MAX_TARGET_POSITIONS,
    TransformerLanguageModel,
    TransformerLanguageModelConfig,
)
from fairseq.modules import AdaptiveInput, CharacterTokenEmbedder
from fairseq.utils import safe_getattr

from macaron_fairseq.models.macaron_options import (
    FFN_SCALE_HELP,
    LEARNABLE_SCALE_HELP,
    SCHEME_HELP,
    add_macaron_args,
    macaron_transformer_config,
)
from macaron_fairseq.models.macaron_transformer import (
    MacaronTransformerDecoder,
    base_macaron_architecture,
    macaron_twin,
)
from macaron_fairseq.modules.splitting_scheme import DEFAULT_SCHEME, macaron_ffn_width


@dataclass
class MacaronTransformerLanguageModelConfig(TransformerLanguageModelConfig):
    """``transformer_lm``'s options and the Macaron ones: fairseq-train keeps only the keys of a model's dataclass.

    The Macaron options default to None, resolved by the architecture (``base_macaron_architecture``): a scale
    given by default would be refused under a scheme without half steps. The FFN width defaults to the strang
    twin's, for configs built from the dataclass alone.
    """

    decoder_ffn_embed_dim: int = field(
        default=macaron_ffn_width(TransformerLanguageModelConfig.decoder_ffn_embed_dim, DEFAULT_SCHEME),
        metadata={"help": "decoder embedding dimension for FFN (of each of the two FFNs under the strang scheme)"},
    )
    macaron_ffn_scale: Optional[float] = field(default=None, metadata={"help": FFN_SCALE_HELP})
    macaron_scheme: Optional[str] = field(default=None, metadata={"help": SCHEME_HELP})
    macaron_learnable_scale: bool = field(default=False, metadata={"help": LEARNABLE_SCALE_HELP})


@register_model("macaron_transformer_lm", dataclass=MacaronTransformerLanguageModelConfig)
class MacaronTransformerLanguageModel(TransformerLanguageModel):
    """Macaron Net (Lu et al. 2019, https://arxiv.org/abs/1906.02762) as a language model: every layer runs half
    an FFN step, then self-attention, then half an FFN step. Takes every option of ``transformer_lm``."""

    @classmethod
    def hub_models(cls):
        return {}

    @classmethod
    def add_args(cls, parser):
        # Added before the dataclass's options, with their checks and choices; fairseq then skips the fields' own
        # options as duplicates.
        add_macaron_args(parser)
        super().add_args(parser)

    @classmethod
    def build_model(cls, args, task):
        """fairseq's ``TransformerLanguageModel.build_model`` with the Macaron decoder: fairseq's names its
        ``TransformerDecoder`` directly, with no hook to build another."""
        base_macaron_architecture(args)
        if args.decoder_layers_to_keep:
            args.decoder_layers = len(args.decoder_layers_to_keep.split(","))
        if safe_getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = safe_getattr(args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS)

        embed_tokens = cls.build_input_embedding(args, task.source_dictionary)
        if args.tie_adaptive_weights and not (
            args.adaptive_input and args.adaptive_input_factor == args.adaptive_softmax_factor
            and args.adaptive_softmax_cutoff == args.adaptive_input_cutoff
            and args.decoder_input_dim == args.decoder_output_dim
        ):
            raise ValueError("--tie-adaptive-weights needs --adaptive-input with the adaptive softmax's factor "
                             "and cutoff, and equal decoder input and output dimensions")
        decoder = MacaronTransformerDecoder(
            macaron_transformer_config(args), task.target_dictionary, embed_tokens, no_encoder_attn=True
        )
        return cls(decoder)

    @classmethod
    def build_input_embedding(cls, args, dictionary):
        """The token embedding ``transformer_lm`` builds: character convolutions, adaptive input or a table."""
        if args.character_embeddings:
            return CharacterTokenEmbedder(
                dictionary, eval(args.character_filters), args.character_embedding_dim, args.decoder_embed_dim,
                args.char_embedder_highway_layers,
            )
        if args.adaptive_input:
            return AdaptiveInput(
                len(dictionary), dictionary.pad(), args.decoder_input_dim, args.adaptive_input_factor,
                args.decoder_embed_dim, options.eval_str_list(args.adaptive_input_cutoff, type=int),
                args.quant_noise_pq, args.quant_noise_pq_block_size,
            )
        return cls.build_embedding(args, dictionary, args.decoder_input_dim)


def transformer_lm_architecture(args):
    """fairseq's ``transformer_lm`` architecture: its dataclass's defaults, of which the twin reads the FFN width
    (the architecture function fairseq registers for it sets nothing)."""
    args.decoder_ffn_embed_dim = safe_getattr(
        args, "decoder_ffn_embed_dim", TransformerLanguageModelConfig.decoder_ffn_embed_dim
    )


BASELINE_TWINS = {
    "macaron_transformer_lm": ("transformer_lm", transformer_lm_architecture),
    **{
        f"macaron_{name}": (name, ARCH_CONFIG_REGISTRY[name])
        for name in (
            "transformer_lm_big", "transformer_lm_wiki103", "transformer_lm_gbw", "transformer_lm_gpt",
            "transformer_lm_gpt2_tiny", "transformer_lm_gpt2_small", "transformer_lm_gpt2_medium",
            "transformer_lm_gpt2_big",
        )
    },
}
"""Each Macaron architecture's baseline twin: (fairseq arch name, its preset function)."""

for _name, (_, _preset) in BASELINE_TWINS.items():
    if _name == "macaron_transformer_lm":
        # registered with the model, as an architecture that sets nothing: it becomes the twin of transformer_lm
        ARCH_CONFIG_REGISTRY[_name] = macaron_twin(_preset)
    else:
        register_model_architecture("macaron_transformer_lm", _name)(macaron_twin(_preset))
