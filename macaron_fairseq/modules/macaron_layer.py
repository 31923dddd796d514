"""Macaron layers: fairseq's transformer layers with a half-step FFN in front of attention.

Lu et al. 2019 (https://arxiv.org/abs/1906.02762) read a transformer layer as one Lie-Trotter splitting step
of a convection-diffusion ODE (attention diffuses, the FFN convects). Strang-Marchuk splitting is second order
and gives the Macaron layer:

    encoder:  x + s*FFN_1(x)  ->  x + SelfAttn(x)                        ->  x + s*FFN_2(x)
    decoder:  x + s*FFN_1(x)  ->  x + SelfAttn(x)  ->  x + CrossAttn(x)  ->  x + s*FFN_2(x)

with s = ``--macaron-ffn-scale`` (0.5 in the paper). The baseline layer's own FFN (``fc1``, ``fc2``,
``final_layer_norm``) is FFN_2; FFN_1 adds ``macaron_fc1``, ``macaron_fc2`` and ``macaron_layer_norm``. Every
sub-layer keeps the baseline's LayerNorm placement (``normalize_before``) and dropout placement.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.modules import LayerNorm
from fairseq.modules.quant_noise import quant_noise
from fairseq.modules.transformer_layer import (
    TransformerDecoderLayerBase,
    TransformerEncoderLayerBase,
)


class ScaledLinear(nn.Linear):
    """``nn.Linear`` whose output is multiplied by a fixed ``scale``.

    Used as each FFN's output projection: dropout is linear, so scaling this output is the same as scaling the
    FFN's residual branch, ``x + s*FFN(x)``. The baseline layers' forward then runs their FFN as a half step
    unchanged, and the state-dict keys stay ``fc2.weight`` / ``fc2.bias``.
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


class MacaronHalfStep:
    """What the encoder and decoder Macaron layers add to fairseq's: a second FFN, run before attention."""

    def build_fc2(self, input_dim, output_dim, q_noise, qn_block_size):
        return quant_noise(
            ScaledLinear(input_dim, output_dim, scale=self.macaron_ffn_scale), q_noise, qn_block_size
        )

    def build_macaron_ffn(self, cfg, ffn_embed_dim):
        self.macaron_fc1 = self.build_fc1(
            self.embed_dim, ffn_embed_dim, self.quant_noise, self.quant_noise_block_size
        )
        self.macaron_fc2 = self.build_fc2(
            ffn_embed_dim, self.embed_dim, self.quant_noise, self.quant_noise_block_size
        )
        self.macaron_layer_norm = LayerNorm(self.embed_dim, export=cfg.export)

    def macaron_half_step(self, x):
        """``x + s*FFN_1(x)`` for x of shape `(seq_len, batch, embed_dim)`, normalized like the baseline's FFN."""
        residual = x
        if self.normalize_before:
            x = self.macaron_layer_norm(x)
        x = self.activation_dropout_module(self.activation_fn(self.macaron_fc1(x)))
        x = self.dropout_module(self.macaron_fc2(x))
        x = self.residual_connection(x, residual)
        if not self.normalize_before:
            x = self.macaron_layer_norm(x)
        return x


class MacaronTransformerEncoderLayer(MacaronHalfStep, TransformerEncoderLayerBase):
    """Encoder layer: half-step FFN, self-attention, half-step FFN. Args as ``TransformerEncoderLayerBase``."""

    def __init__(self, cfg, return_fc=False):
        # Set before the baseline's __init__, whose build_fc2 reads it.
        self.macaron_ffn_scale = cfg.macaron_ffn_scale
        super().__init__(cfg, return_fc=return_fc)
        self.build_macaron_ffn(cfg, cfg.encoder.ffn_embed_dim)

    def forward(self, x, encoder_padding_mask, attn_mask=None):
        return super().forward(self.macaron_half_step(x), encoder_padding_mask, attn_mask)


class MacaronTransformerDecoderLayer(MacaronHalfStep, TransformerDecoderLayerBase):
    """Decoder layer: half-step FFN, self-attention, encoder attention, half-step FFN.

    The half step is position-wise, so incremental decoding needs no state for it: each step's input passes
    through it alone.
    """

    def __init__(self, cfg, no_encoder_attn=False, add_bias_kv=False, add_zero_attn=False):
        self.macaron_ffn_scale = cfg.macaron_ffn_scale
        super().__init__(cfg, no_encoder_attn, add_bias_kv, add_zero_attn)
        self.build_macaron_ffn(cfg, cfg.decoder.ffn_embed_dim)

    def forward(self, x, *args, **kwargs):
        return super().forward(self.macaron_half_step(x), *args, **kwargs)
