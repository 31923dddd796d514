"""The ``macaron_transformer`` model: fairseq's ``transformer`` with Macaron layers.

Each architecture below is a baseline preset with the Macaron layers. Under the default scheme, ``strang``, each
FFN's inner width is halved, so the two FFNs of a Macaron layer hold the parameters of the baseline's one (the
extra LayerNorm and output bias per layer are the only difference, about 0.05 %); the other schemes of
``--macaron-scheme`` run one FFN, of the baseline's width.
"""

import argparse
import copy
import math

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
from omegaconf import OmegaConf

from macaron_fairseq.errors import MacaronFairseqError
from macaron_fairseq.models.macaron_options import add_macaron_args
from macaron_fairseq.modules.macaron_layer import (
    DEFAULT_MACARON_FFN_SCALE,
    MacaronTransformerDecoderLayer,
    MacaronTransformerEncoderLayer,
)
from macaron_fairseq.modules.splitting_scheme import DEFAULT_SCHEME, SCHEMES, has_half_steps, macaron_ffn_width


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
        add_macaron_args(parser)

    @classmethod
    def build_model(cls, args, task):
        if not isinstance(args, argparse.Namespace):
            # fairseq-hydra-train's DictConfig: fairseq's TransformerConfig.from_namespace would keep only its own
            # fields of it, and the layers would be built without the Macaron options; of a Namespace it keeps all
            args = argparse.Namespace(**OmegaConf.to_container(args, resolve=True))
        # again, for a model built from a saved config rather than from the command line
        base_macaron_architecture(args)
        check_layer_sizes(args)
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
    """Architecture function: ``baseline_preset``, with each FFN's inner width halved under the strang scheme.

    Widths given on the command line are taken as they are, as the width of each FFN the layer holds: each of the
    two under strang, the one under the other schemes.
    """

    def architecture(args):
        twin = copy.copy(args)
        baseline_preset(twin)
        scheme = getattr(args, "macaron_scheme", None) or DEFAULT_SCHEME
        for key in ("encoder_ffn_embed_dim", "decoder_ffn_embed_dim"):
            # language-model and RoBERTa presets set only one of the two widths
            if not hasattr(args, key) and hasattr(twin, key):
                setattr(args, key, macaron_ffn_width(getattr(twin, key), scheme))
        base_macaron_architecture(args)
        baseline_preset(args)
        check_layer_sizes(args)

    architecture.__doc__ = f"Macaron twin of fairseq's {baseline_preset.__name__} preset."
    return architecture


NORMFORMER_OPTIONS = ("scale_attn", "scale_fc", "scale_heads", "scale_resids")


def base_macaron_architecture(args):
    """Resolves the Macaron options' defaults and refuses what the layers cannot run (MacaronFairseqError)."""
    # None where a checkpoint saved without the option is upgraded with its parser's default
    args.macaron_scheme = getattr(args, "macaron_scheme", None) or DEFAULT_SCHEME
    if args.macaron_scheme not in SCHEMES:
        raise MacaronFairseqError(f"--macaron-scheme {args.macaron_scheme} is not a scheme: choose one of "
                                  f"{', '.join(SCHEMES)}")
    args.macaron_learnable_scale = bool(getattr(args, "macaron_learnable_scale", False))
    if has_half_steps(args.macaron_scheme):
        if getattr(args, "macaron_ffn_scale", None) is None:
            args.macaron_ffn_scale = DEFAULT_MACARON_FFN_SCALE
        check_ffn_scale(args.macaron_ffn_scale)
    elif getattr(args, "macaron_ffn_scale", None) is not None:
        raise MacaronFairseqError(
            f"--macaron-ffn-scale sets the FFN half steps of the strang schemes, and --macaron-scheme "
            f"{args.macaron_scheme} has none (its FFN step is whole): drop --macaron-ffn-scale")
    if getattr(args, "cross_self_attention", False):
        raise MacaronFairseqError("--cross-self-attention is not supported by macaron_transformer: drop it")
    # NormFormer's extra norms and scales (fairseq's transformer_lm options) sit inside fairseq's own layer forward,
    # which the Macaron layers replace: taken silently, they would add parameters that nothing uses
    for option in NORMFORMER_OPTIONS:
        if getattr(args, option, False):
            raise MacaronFairseqError(f"--{option.replace('_', '-')} (NormFormer) is not supported by the Macaron "
                                      f"layers: drop it")


def check_ffn_scale(scale):
    # an infinite scale is accepted by float() and overflows the first forward pass
    if not (math.isfinite(scale) and scale > 0):
        raise MacaronFairseqError(f"--macaron-ffn-scale must be a finite number above 0 (0.5 is the half step of "
                                  f"Strang splitting), got {scale}")


def check_layer_sizes(args):
    """Refuses FFN widths and head counts that fairseq's modules fail on with a traceback; each stack is checked
    where the model has it (a language model has only the decoder, RoBERTa only the encoder)."""
    for stack in ("encoder", "decoder"):
        width = getattr(args, f"{stack}_ffn_embed_dim", None)
        if width is not None and not width > 0:
            raise MacaronFairseqError(
                f"--{stack}-ffn-embed-dim must be a whole number above 0, the inner width of each FFN, got {width}")
        heads, embed_dim = getattr(args, f"{stack}_attention_heads", None), getattr(args, f"{stack}_embed_dim", None)
        if heads is None or embed_dim is None:
            continue
        if not heads > 0:
            raise MacaronFairseqError(f"--{stack}-attention-heads must be a whole number above 0, got {heads}")
        if embed_dim % heads:
            raise MacaronFairseqError(
                f"--{stack}-attention-heads {heads} does not divide --{stack}-embed-dim {embed_dim} into heads of "
                f"one width: choose a number of heads that divides {embed_dim}, "
                f"such as {nearest_divisors(embed_dim, heads)}")


def nearest_divisors(number, near):
    """The divisors of ``number`` nearest ``near`` from below and above, as ``"2 or 4"``."""
    divisors = [d for d in range(1, number + 1) if number % d == 0]
    below = [d for d in divisors if d < near][-1:]
    above = [d for d in divisors if d > near][:1]
    return " or ".join(str(d) for d in below + above)


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
