"""Macaron layers: fairseq's transformer layers, their sub-layers run in the order of a splitting scheme.

Lu et al. 2019 (https://arxiv.org/abs/1906.02762) read a transformer layer as one Lie-Trotter splitting step
of a convection-diffusion ODE (attention diffuses, the FFN convects). Strang-Marchuk splitting is second order
and gives the Macaron layer:

    encoder:  x + s*FFN_1(x)  ->  x + SelfAttn(x)                        ->  x + s*FFN_2(x)
    decoder:  x + s*FFN_1(x)  ->  x + SelfAttn(x)  ->  x + CrossAttn(x)  ->  x + s*FFN_2(x)

with s = ``--macaron-ffn-scale`` (0.5 in the paper). ``--macaron-scheme`` picks this order or another one
(:mod:`macaron_fairseq.modules.splitting_scheme`). The baseline layer's own FFN (``fc1``, ``fc2``,
``final_layer_norm``) is FFN_2; FFN_1 adds ``macaron_fc1``, ``macaron_fc2`` and ``macaron_layer_norm``. Every
sub-layer keeps the baseline's LayerNorm placement (``normalize_before``) and dropout placement.

The branches are written as functions of a layer's modules (:func:`encoder_branches`, :func:`decoder_branches`),
which take fairseq's own layers too: the splitting probe (:mod:`macaron_fairseq.diagnostics.splitting`) reads a
baseline's layers, as Lie-Trotter steps, through them.
"""

from typing import Callable, NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.modules import LayerNorm
from fairseq.modules.quant_noise import quant_noise
from fairseq.modules.transformer_layer import (
    TransformerDecoderLayerBase,
    TransformerEncoderLayerBase,
)

from macaron_fairseq.modules.splitting_scheme import DEFAULT_SCHEME, SCHEMES, has_half_steps

DEFAULT_MACARON_FFN_SCALE = 0.5


class ScaledLinear(nn.Linear):
    """``nn.Linear`` whose output is multiplied by a fixed ``scale``.

    Used as each FFN's output projection: dropout is linear, so scaling this output is the same as scaling the
    FFN's residual branch, ``x + s*FFN(x)``, and the state-dict keys stay ``fc2.weight`` / ``fc2.bias``.
    """

    def __init__(self, in_features, out_features, scale, bias=True):
        super().__init__(in_features, out_features, bias=bias)
        self.scale = scale

    def forward(self, x):
        if self.bias is None:
            return F.linear(x, self.weight) * self.scale
        # s * (x W^T + b) in one addmm rather than a linear and a separate multiplication over its output
        flat = torch.addmm(self.bias, x.reshape(-1, self.in_features), self.weight.t(), beta=self.scale, alpha=self.scale)
        return flat.view(*x.shape[:-1], self.out_features)

    def extra_repr(self):
        return f"{super().extra_repr()}, scale={self.scale}"


def ffn_branch(layer, prefix=""):
    """``fc2(act(fc1(h)))`` of ``layer``'s FFN named ``prefix + "fc1"``, ``prefix + "fc2"``."""
    fc1, fc2 = getattr(layer, prefix + "fc1"), getattr(layer, prefix + "fc2")
    return lambda h: fc2(layer.activation_dropout_module(layer.activation_fn(fc1(h))))


def ffn_branches(layer):
    branches = {"ffn": ffn_branch(layer)}
    if hasattr(layer, "macaron_fc1"):
        branches["macaron_ffn"] = ffn_branch(layer, "macaron_")
    return branches


def encoder_branches(layer, encoder_padding_mask, attn_mask=None):
    """The branches of an encoder layer, each a function of its normalized input h `(seq_len, batch, embed_dim)`.

    ``attn_mask`` is additive, as fairseq's encoder layer makes it.
    """

    def self_attn(h):
        return layer.self_attn(
            query=h, key=h, value=h, key_padding_mask=encoder_padding_mask, need_weights=False, attn_mask=attn_mask,
        )[0]

    return {"self_attn": self_attn, **ffn_branches(layer)}


def decoder_branches(layer, encoder_out, encoder_padding_mask, incremental_state=None, self_attn_mask=None,
                     self_attn_padding_mask=None, need_weights=False, need_head_weights=False,
                     attention_weights=None):
    """The branches of a decoder layer, each a function of its normalized input h `(tgt_len, batch, embed_dim)`.

    Cross-attention, present when the layer has it and ``encoder_out`` is given, attends to ``encoder_out`` as a
    fixed context and appends its attention weights to the list ``attention_weights``, if given.
    """

    def self_attn(h):
        return layer.self_attn(
            query=h, key=h, value=h, key_padding_mask=self_attn_padding_mask, incremental_state=incremental_state,
            need_weights=False, attn_mask=self_attn_mask,
        )[0]

    branches = {"self_attn": self_attn, **ffn_branches(layer)}
    if layer.encoder_attn is not None and encoder_out is not None:

        def encoder_attn(h):
            h, weights = layer.encoder_attn(
                query=h, key=encoder_out, value=encoder_out, key_padding_mask=encoder_padding_mask,
                incremental_state=incremental_state, static_kv=True, need_weights=need_weights,
                need_head_weights=need_head_weights,
            )
            if attention_weights is not None:
                attention_weights.append(weights)
            return h

        branches["encoder_attn"] = encoder_attn
    return branches


class SubLayer(NamedTuple):
    name: str
    norm: nn.Module
    branch: Callable
    """c*f(h) where the coefficient c is fixed: 1, or s folded into fc2; f(h) where it is learned."""
    step_size: Optional[torch.Tensor]
    """The learned coefficient c (``--macaron-learnable-scale``), else None."""


def sub_layers(layer, scheme, branches):
    """``layer``'s sub-steps under ``scheme``, in order, for those of its branches that ``branches`` holds."""
    return [
        SubLayer(step.name, getattr(layer, step.norm), branches[step.branch], getattr(layer, f"{step.name}_step", None))
        for step in SCHEMES[scheme]
        if step.branch in branches
    ]


class SplittingSteps:
    """What the Macaron encoder and decoder layers add to fairseq's: their sub-steps run in a scheme's order."""

    def set_scheme(self, cfg):
        """Reads the scheme's options; called before the baseline's __init__, whose build_fc2 reads them."""
        self.scheme = getattr(cfg, "macaron_scheme", DEFAULT_SCHEME)
        self.learnable_scale = getattr(cfg, "macaron_learnable_scale", False)
        self.ffn_scale = getattr(cfg, "macaron_ffn_scale", DEFAULT_MACARON_FFN_SCALE) if has_half_steps(self.scheme) else 1.0
        # A fixed half step is folded into fc2 (so a strang layer is unchanged), a learned one multiplies the branch.
        self.folded_ffn_scale = self.ffn_scale if has_half_steps(self.scheme) and not self.learnable_scale else None

    def build_fc2(self, input_dim, output_dim, q_noise, qn_block_size):
        if self.folded_ffn_scale is None:
            return super().build_fc2(input_dim, output_dim, q_noise, qn_block_size)
        return quant_noise(ScaledLinear(input_dim, output_dim, scale=self.folded_ffn_scale), q_noise, qn_block_size)

    def build_scheme(self, cfg, ffn_embed_dim, has_encoder_attn):
        """Adds what the scheme has beyond the baseline's modules: a second FFN or LayerNorm, learned step sizes."""
        steps = [step for step in SCHEMES[self.scheme] if has_encoder_attn or step.branch != "encoder_attn"]
        if any(step.branch == "macaron_ffn" for step in steps):
            self.macaron_fc1 = self.build_fc1(self.embed_dim, ffn_embed_dim, self.quant_noise, self.quant_noise_block_size)
            self.macaron_fc2 = self.build_fc2(ffn_embed_dim, self.embed_dim, self.quant_noise, self.quant_noise_block_size)
        if any(step.norm == "macaron_layer_norm" for step in steps):
            self.macaron_layer_norm = LayerNorm(self.embed_dim, export=cfg.export)
        if self.learnable_scale:
            for step in steps:
                initial = self.ffn_scale if step.half_step else 1.0
                setattr(self, f"{step.name}_step", nn.Parameter(torch.tensor(initial)))

    def run_sub_steps(self, x, branches):
        for sub_layer in sub_layers(self, self.scheme, branches):
            x = self.sub_step(x, sub_layer)
        return x

    def sub_step(self, x, sub_layer):
        """``x + c*branch(x)`` for x `(seq_len, batch, embed_dim)`, normalized before the branch (pre-norm) or
        after the sum (post-norm), with dropout on the branch, as each of fairseq's sub-layers."""
        residual = x
        if self.normalize_before:
            x = sub_layer.norm(x)
        x = self.dropout_module(sub_layer.branch(x))
        if sub_layer.step_size is not None:
            x = sub_layer.step_size * x
        x = self.residual_connection(x, residual)
        if not self.normalize_before:
            x = sub_layer.norm(x)
        return x


class MacaronTransformerEncoderLayer(SplittingSteps, TransformerEncoderLayerBase):
    """Encoder layer of ``--macaron-scheme`` (default: half-step FFN, self-attention, half-step FFN).

    Args as ``TransformerEncoderLayerBase``.
    """

    def __init__(self, cfg, return_fc=False):
        self.set_scheme(cfg)
        super().__init__(cfg, return_fc=return_fc)
        self.build_scheme(cfg, cfg.encoder.ffn_embed_dim, has_encoder_attn=False)

    def forward(self, x, encoder_padding_mask, attn_mask=None):
        if attn_mask is not None:
            # as fairseq's layer: a large negative number rather than -inf, which can give NaN on padded queries
            attn_mask = attn_mask.masked_fill(attn_mask.to(torch.bool), -1e8 if x.dtype == torch.float32 else -1e4)
        return self.run_sub_steps(x, encoder_branches(self, encoder_padding_mask, attn_mask))


class MacaronTransformerDecoderLayer(SplittingSteps, TransformerDecoderLayerBase):
    """Decoder layer of ``--macaron-scheme`` (default: half-step FFN, self-attention, encoder attention,
    half-step FFN). Args as ``TransformerDecoderLayerBase``.

    The FFN steps are position-wise, so incremental decoding needs no state for them: each step's input passes
    through them alone.
    """

    def __init__(self, cfg, no_encoder_attn=False, add_bias_kv=False, add_zero_attn=False):
        self.set_scheme(cfg)
        super().__init__(cfg, no_encoder_attn, add_bias_kv, add_zero_attn)
        self.build_scheme(cfg, cfg.decoder.ffn_embed_dim, has_encoder_attn=not no_encoder_attn)

    def forward(self, x, encoder_out=None, encoder_padding_mask=None, incremental_state=None, *,
                self_attn_mask=None, self_attn_padding_mask=None, need_attn=False, need_head_weights=False):
        """Returns (output `(tgt_len, batch, embed_dim)`, cross-attention weights or None, None), as fairseq's."""
        attention_weights = []
        branches = decoder_branches(
            self, encoder_out, encoder_padding_mask, incremental_state, self_attn_mask, self_attn_padding_mask,
            need_weights=need_attn or need_head_weights or (not self.training and self.need_attn),
            need_head_weights=need_head_weights, attention_weights=attention_weights,
        )
        x = self.run_sub_steps(x, branches)
        return x, attention_weights[-1] if attention_weights else None, None
