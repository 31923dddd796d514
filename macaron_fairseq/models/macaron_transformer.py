"""The ``macaron_transformer`` model: fairseq's ``transformer`` with Macaron layers.

Each architecture below is a baseline preset with the Macaron layers and each FFN's inner width halved, so the
two FFNs of a Macaron layer hold the parameters of the baseline's one (the extra LayerNorm per layer is the only
difference, about 0.05 %).
"""

import argparse
import copy

from fairseq.distributed import fsdp_wrap
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerDecoderBase,
    TransformerEncoderBase,
    TransformerModel,
    base_architecture,
    transformer_iwslt_de_en,
    transformer_vaswani_wmt_en_de_big,
    transformer_wmt_en_de,
    transformer_wmt_en_de_big,
    transformer_wmt_en_de_big_t2t,
)
from fairseq.modules.checkpoint_activations import checkpoint_wrapper

from macaron_fairseq.modules.macaron_layer import (
    MacaronTransformerDecoderLayer,
    MacaronTransformerEncoderLayer,
)

DEFAULT_MACARON_FFN_SCALE = 0.5


def positive_float(text):
    """argparse type of ``--macaron-ffn-scale``."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0 (the paper uses 0.5), got {text}")
    return value


def wrap_layer(layer, cfg):
    """Activation checkpointing and FSDP wrapping, as fairseq's build_encoder_layer/build_decoder_layer apply."""
    if cfg.checkpoint_activations:
        layer = checkpoint_wrapper(layer, offload_to_cpu=cfg.offload_activations)
    # a checkpointed layer is always FSDP-wrapped, whatever its size, as in fairseq
    min_params_to_wrap = 0 if cfg.checkpoint_activations else cfg.min_params_to_wrap
    return fsdp_wrap(layer, min_num_params=min_params_to_wrap)


class MacaronTransformerEncoder(TransformerEncoderBase):
    def build_encoder_layer(self, cfg):
        return wrap_layer(MacaronTransformerEncoderLayer(cfg, return_fc=self.return_fc), cfg)


class MacaronTransformerDecoder(TransformerDecoderBase):
    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        return wrap_layer(MacaronTransformerDecoderLayer(cfg, no_encoder_attn), cfg)


@register_model("macaron_transformer")
class MacaronTransformerModel(TransformerModel):
    """Macaron Net (Lu et al. 2019, https://arxiv.org/abs/1906.02762): every transformer layer runs
    half an FFN step, then attention, then half an FFN step. Takes every option of ``transformer``."""

    @classmethod
    def hub_models(cls):
        return {}

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        parser.add_argument(
            "--macaron-ffn-scale", type=positive_float, metavar="S",
            help=f"scale of each FFN's residual branch, x + S*FFN(x) (default: {DEFAULT_MACARON_FFN_SCALE}, "
                 "the half step of Strang-Marchuk splitting)",
        )

    @classmethod
    def build_model(cls, args, task):
        base_macaron_architecture(args)
        if not args.macaron_ffn_scale > 0:
            raise ValueError(f"macaron_ffn_scale must be above 0, got {args.macaron_ffn_scale}")
        return super().build_model(args, task)

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        return MacaronTransformerEncoder(TransformerConfig.from_namespace(args), src_dict, embed_tokens)

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        return MacaronTransformerDecoder(
            TransformerConfig.from_namespace(args),
            tgt_dict,
            embed_tokens,
            no_encoder_attn=args.no_cross_attention,
        )


def macaron_twin(baseline_preset):
    """Architecture function: ``baseline_preset`` with each FFN's inner width halved.

    Widths given on the command line are taken as they are, as the width of each of the two FFNs.
    """

    def architecture(args):
        twin = copy.copy(args)
        baseline_preset(twin)
        for key in ("encoder_ffn_embed_dim", "decoder_ffn_embed_dim"):
            if not hasattr(args, key):
                setattr(args, key, getattr(twin, key) // 2)
        base_macaron_architecture(args)
        baseline_preset(args)

    architecture.__doc__ = f"Macaron twin of fairseq's {baseline_preset.__name__} preset."
    return architecture


def base_macaron_architecture(args):
    args.macaron_ffn_scale = getattr(args, "macaron_ffn_scale", DEFAULT_MACARON_FFN_SCALE)


BASELINE_TWINS = {
    "macaron_transformer": ("transformer", base_architecture),
    "macaron_transformer_iwslt_de_en": ("transformer_iwslt_de_en", transformer_iwslt_de_en),
    "macaron_transformer_wmt_en_de": ("transformer_wmt_en_de", transformer_wmt_en_de),
    "macaron_transformer_vaswani_wmt_en_de_big": (
        "transformer_vaswani_wmt_en_de_big", transformer_vaswani_wmt_en_de_big,
    ),
    "macaron_transformer_wmt_en_de_big": ("transformer_wmt_en_de_big", transformer_wmt_en_de_big),
    "macaron_transformer_wmt_en_de_big_t2t": ("transformer_wmt_en_de_big_t2t", transformer_wmt_en_de_big_t2t),
}
"""Each Macaron architecture's baseline twin: (fairseq arch name, its preset function)."""

for _name, (_, _preset) in BASELINE_TWINS.items():
    register_model_architecture("macaron_transformer", _name)(macaron_twin(_preset))
