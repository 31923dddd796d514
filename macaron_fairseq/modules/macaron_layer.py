"""Macaron layers: fairseq's transformer layers, their sub-steps run in the order of a splitting scheme.

Lu et al. 2019 (https://arxiv.org/abs/1906.02762) read a transformer layer as one Lie-Trotter splitting step
of a convection-diffusion ODE (attention diffuses, the FFN convects). Strang-Marchuk splitting is second order
and gives the Macaron layer:

    encoder:  x + s*FFN_1(x)  ->  x + SelfAttn(x)                        ->  x + s*FFN_2(x)
    decoder:  x + s*FFN_1(x)  ->  x + SelfAttn(x)  ->  x + CrossAttn(x)  ->  x + s*FFN_2(x)

with s = ``--macaron-ffn-scale`` (0.5 in the paper). ``--macaron-scheme`` picks this order or another one
(:mod:`macaron_fairseq.modules.splitting_scheme`). The baseline layer's own FFN (``fc1``, ``fc2``,
``final_layer_norm``) is FFN_2; FFN_1 adds ``macaron_fc1``, ``macaron_fc2`` and ``macaron_layer_norm``. Every
sub-step keeps the baseline's LayerNorm placement (``normalize_before``) and dropout placement.

Each sub-step ``x + c*f(x)`` is a small module (:class:`FeedForwardSubStep`, :class:`SelfAttentionSubStep`,
:class:`EncoderAttentionSubStep`) bound once, when the layer is built, to the layer's LayerNorm, branch and
coefficient c: a float, or the learned ``<name>_step`` (``--macaron-learnable-scale``). The layer owns the
modules and parameters and saves them under fairseq's names; a sub-step saves nothing of its own.
:func:`bind_sub_steps` binds fairseq's own layers too: the splitting probe
(:mod:`macaron_tools.probe.splitting`) reads a baseline's layers, as Lie-Trotter steps, through them.
"""

from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from fairseq.modules import LayerNorm
from fairseq.modules.transformer_layer import (
    TransformerDecoderLayerBase,
    TransformerEncoderLayerBase,
)
from torch import Tensor

from macaron_fairseq.errors import MacaronFairseqError
from macaron_fairseq.modules.splitting_scheme import DEFAULT_SCHEME, SCHEMES, has_half_steps

DEFAULT_MACARON_FFN_SCALE = 0.5


class SubStepModule(nn.Module):
    """One sub-step ``x + c*f(x)`` of a layer, bound to the layer's LayerNorm, branch modules and coefficient.

    The layer owns them (its ``fc1``, ``self_attn_layer_norm``, ``ffn1_step``...): a sub-step holds them only to
    call them, so it adds no key to a state dict, loads nothing of its own and leaves them to the layer's ``apply``.
    """

    def __init__(self, name, norm, coefficient, dropout, normalize_before, equation):
        super().__init__()
        self.name = name
        self.norm = norm
        self.coefficient = coefficient  # a float, or the layer's learned nn.Parameter
        self.dropout = dropout
        self.normalize_before = normalize_before
        self.equation = equation

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        return OrderedDict() if destination is None else destination

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The layer has just loaded these under its own names: each module here takes back what it holds, so that
        # a state dict without this sub-step's keys (every state dict) loads strictly.
        state_dict.update(super().state_dict(prefix=prefix, keep_vars=True))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def apply(self, fn):
        # an initialisation applied to the layer would otherwise reach the layer's modules twice
        fn(self)
        return self

    def __repr__(self):
        return f"{type(self).__name__}({self.name}: {self.equation})"


class FeedForwardSubStep(SubStepModule):
    """``x + c*FFN(x)``, FFN(h) = fc2(act(fc1(h))): a half step of the strang schemes (c = s), or the whole FFN
    step of Lie-Trotter (c = 1)."""

    def __init__(self, name, norm, fc1, fc2, activation_fn, activation_dropout, **sub_step):
        super().__init__(name, norm, **sub_step)
        self.fc1 = fc1
        self.fc2 = fc2
        self.activation_fn = activation_fn
        self.activation_dropout = activation_dropout

    def branch(self, h: Tensor) -> Tensor:
        # h: (seq_len, batch, embed_dim) -> (seq_len, batch, ffn_embed_dim) -> (seq_len, batch, embed_dim)
        return self.fc2(self.activation_dropout(self.activation_fn(self.fc1(h))))

    def forward(self, x: Tensor) -> Tensor:
        # x: (seq_len, batch, embed_dim)
        h = self.norm(x) if self.normalize_before else x
        x = x + self.coefficient * self.dropout(self.branch(h))
        return x if self.normalize_before else self.norm(x)


class SelfAttentionSubStep(SubStepModule):
    """``x + c*SelfAttn(x)`` (c = 1 but when learned); causal in the decoder through ``attn_mask``, or through
    ``incremental_state`` one position at a time."""

    def __init__(self, name, norm, attention, **sub_step):
        super().__init__(name, norm, **sub_step)
        self.attention = attention

    def branch(self, h: Tensor, key_padding_mask: Optional[Tensor], attn_mask: Optional[Tensor],
               incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None) -> Tensor:
        # h: (seq_len, batch, embed_dim); key_padding_mask: (batch, seq_len), True at padding
        h, _ = self.attention(query=h, key=h, value=h, key_padding_mask=key_padding_mask,
                              incremental_state=incremental_state, need_weights=False, attn_mask=attn_mask)
        return h

    def forward(self, x: Tensor, key_padding_mask: Optional[Tensor], attn_mask: Optional[Tensor],
                incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None) -> Tensor:
        # x: (seq_len, batch, embed_dim)
        h = self.norm(x) if self.normalize_before else x
        x = x + self.coefficient * self.dropout(self.branch(h, key_padding_mask, attn_mask, incremental_state))
        return x if self.normalize_before else self.norm(x)


class EncoderAttentionSubStep(SubStepModule):
    """``x + c*CrossAttn(x)`` of a decoder layer (c = 1 but when learned): attention to the encoder output, a
    fixed context. Returns the attention weights too, when asked for."""

    def __init__(self, name, norm, attention, **sub_step):
        super().__init__(name, norm, **sub_step)
        self.attention = attention

    def branch(self, h: Tensor, encoder_out: Tensor, encoder_padding_mask: Optional[Tensor],
               incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
               need_weights: bool = False, need_head_weights: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        # h: (tgt_len, batch, embed_dim); encoder_out: (src_len, batch, encoder_embed_dim)
        return self.attention(query=h, key=encoder_out, value=encoder_out, key_padding_mask=encoder_padding_mask,
                              incremental_state=incremental_state, static_kv=True, need_weights=need_weights,
                              need_head_weights=need_head_weights)

    def forward(self, x: Tensor, encoder_out: Tensor, encoder_padding_mask: Optional[Tensor],
                incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
                need_weights: bool = False, need_head_weights: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        # x: (tgt_len, batch, embed_dim); weights: (batch, tgt_len, src_len), or per head first when asked
        h = self.norm(x) if self.normalize_before else x
        update, weights = self.branch(h, encoder_out, encoder_padding_mask, incremental_state, need_weights,
                                      need_head_weights)
        x = x + self.coefficient * self.dropout(update)
        return (x if self.normalize_before else self.norm(x)), weights


FFN_MODULES = {"ffn": ("fc1", "fc2"), "macaron_ffn": ("macaron_fc1", "macaron_fc2")}
"""The layer's modules of each FFN branch of the scheme table."""


def bind_sub_steps(layer, scheme, coefficient_of):
    """``layer``'s sub-steps under ``scheme``, in order, bound to its modules, ``coefficient_of(sub_step)``
    giving each its coefficient; cross-attention only where the layer has it. Takes fairseq's own layers too."""
    bound = []
    for sub_step in SCHEMES[scheme]:
        if sub_step.branch == "encoder_attn" and getattr(layer, "encoder_attn", None) is None:
            continue  # an encoder layer, or a decoder layer without cross-attention
        shared = dict(coefficient=coefficient_of(sub_step), dropout=layer.dropout_module,
                      normalize_before=layer.normalize_before)
        norm = getattr(layer, sub_step.norm)
        coefficient = shared["coefficient"]
        c = f"{sub_step.name}_step" if isinstance(coefficient, nn.Parameter) else f"{coefficient:g}"
        where = f"{sub_step.norm} {'before the branch' if layer.normalize_before else 'after the sum'}"
        if sub_step.branch in FFN_MODULES:
            fc1, fc2 = FFN_MODULES[sub_step.branch]
            bound.append(FeedForwardSubStep(
                sub_step.name, norm, getattr(layer, fc1), getattr(layer, fc2), layer.activation_fn,
                layer.activation_dropout_module, equation=f"x + {c}*{fc2}(act({fc1}(x))), {where}", **shared))
        elif sub_step.branch == "self_attn":
            bound.append(SelfAttentionSubStep(sub_step.name, norm, layer.self_attn,
                                              equation=f"x + {c}*self_attn(x), {where}", **shared))
        else:
            bound.append(EncoderAttentionSubStep(sub_step.name, norm, layer.encoder_attn,
                                                 equation=f"x + {c}*encoder_attn(x, encoder_out), {where}", **shared))
    return bound


def slot_of(sub_step, after_attention):
    if isinstance(sub_step, SelfAttentionSubStep):
        return "self_attn_sub_step"
    if isinstance(sub_step, EncoderAttentionSubStep):
        return "encoder_attn_sub_step"
    return "ffn_after_attn" if after_attention else "ffn_before_attn"


class SplittingLayer:
    """What the Macaron encoder and decoder layers add to fairseq's: their sub-steps, in a scheme's order, in the
    attributes the forward calls: [``ffn_before_attn``] ``self_attn_sub_step`` [``encoder_attn_sub_step``]
    [``ffn_after_attn``], those a scheme lacks None."""

    SLOTS = ("ffn_before_attn", "self_attn_sub_step", "encoder_attn_sub_step", "ffn_after_attn")

    def build_scheme(self, cfg, ffn_embed_dim, has_encoder_attn):
        """Adds what the scheme has beyond the baseline's modules (a second FFN or LayerNorm, learned step sizes)
        and binds the sub-steps; called after the baseline's __init__."""
        self.scheme = getattr(cfg, "macaron_scheme", DEFAULT_SCHEME)
        self.learnable_scale = getattr(cfg, "macaron_learnable_scale", False)
        self.ffn_scale = getattr(cfg, "macaron_ffn_scale", DEFAULT_MACARON_FFN_SCALE) if has_half_steps(self.scheme) else 1.0
        sub_steps = [sub_step for sub_step in SCHEMES[self.scheme]
                     if has_encoder_attn or sub_step.branch != "encoder_attn"]
        if any(sub_step.branch == "macaron_ffn" for sub_step in sub_steps):
            self.macaron_fc1 = self.build_fc1(self.embed_dim, ffn_embed_dim, self.quant_noise, self.quant_noise_block_size)
            self.macaron_fc2 = self.build_fc2(ffn_embed_dim, self.embed_dim, self.quant_noise, self.quant_noise_block_size)
        if any(sub_step.norm == "macaron_layer_norm" for sub_step in sub_steps):
            self.macaron_layer_norm = LayerNorm(self.embed_dim, export=cfg.export)
        if self.learnable_scale:
            for sub_step in sub_steps:
                setattr(self, f"{sub_step.name}_step", nn.Parameter(torch.tensor(self.fixed_coefficient(sub_step))))
        self.bind()

    def fixed_coefficient(self, sub_step):
        return self.ffn_scale if sub_step.half_step else 1.0

    def coefficient(self, sub_step):
        return getattr(self, f"{sub_step.name}_step") if self.learnable_scale else self.fixed_coefficient(sub_step)

    def bind(self):
        """Binds the scheme's sub-steps to the layer's modules and puts each in the slot the forward calls."""
        sub_steps = bind_sub_steps(self, self.scheme, self.coefficient)
        slots = []
        for sub_step in sub_steps:
            slots.append(slot_of(sub_step, after_attention="self_attn_sub_step" in slots))
        if slots != sorted(set(slots), key=self.SLOTS.index):
            raise ValueError(f"--macaron-scheme {self.scheme}: the layer runs [FFN] self-attention [cross-attention] "
                             f"[FFN], each at most once and in this order, and the scheme does not")
        in_slot = dict(zip(slots, sub_steps))
        for slot in self.SLOTS:
            setattr(self, slot, in_slot.get(slot))
        # TorchScript reaches the modules and step sizes the sub-steps hold through them alone: a module reached
        # twice is scripted twice, and fairseq's scripted reorder_incremental_state, which visits every module,
        # would then reorder each attention's cached beams twice.
        held = {id(module_or_step) for sub_step in sub_steps
                for module_or_step in (*sub_step.children(), *sub_step.parameters(recurse=False))}
        self.__jit_ignored_attributes__ = [name for name, owned in (*self._modules.items(), *self._parameters.items())
                                           if id(owned) in held]

    def sub_steps(self) -> List[SubStepModule]:
        """The bound sub-steps in the order the layer runs them."""
        return [getattr(self, slot) for slot in self.SLOTS if getattr(self, slot) is not None]

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        # load_state_dict(assign=True) puts new Parameter objects in place of the learned step sizes
        if any(isinstance(sub_step.coefficient, nn.Parameter)
               and sub_step.coefficient is not getattr(self, f"{sub_step.name}_step") for sub_step in self.sub_steps()):
            self.bind()


class MacaronTransformerEncoderLayer(SplittingLayer, TransformerEncoderLayerBase):
    """Encoder layer of ``--macaron-scheme`` (default: half-step FFN, self-attention, half-step FFN).

    Args as ``TransformerEncoderLayerBase``, but ``return_fc``: fairseq's returns the output of the layer's one
    FFN, and a Macaron layer has two.
    """

    def __init__(self, cfg, return_fc=False):
        if return_fc:
            raise MacaronFairseqError("return_fc (the output of the layer's FFN) is not supported by the Macaron "
                                      "encoder layer, whose strang schemes run two FFNs: build the encoder without it")
        super().__init__(cfg, return_fc=False)
        self.build_scheme(cfg, cfg.encoder.ffn_embed_dim, has_encoder_attn=False)

    def forward(self, x, encoder_padding_mask: Optional[Tensor], attn_mask: Optional[Tensor] = None):
        """x: (seq_len, batch, embed_dim); encoder_padding_mask: (batch, seq_len), True at padding; attn_mask:
        (seq_len, seq_len), nonzero where a query may not attend. Returns (seq_len, batch, embed_dim)."""
        if attn_mask is not None:
            # as fairseq's layer: a large negative number rather than -inf, which can give NaN on padded queries
            attn_mask = attn_mask.masked_fill(attn_mask.to(torch.bool), -1e8 if x.dtype == torch.float32 else -1e4)
        if self.ffn_before_attn is not None:
            x = self.ffn_before_attn(x)  # x + c*FFN_1(x), c = s = 1/2 under strang
        x = self.self_attn_sub_step(x, encoder_padding_mask, attn_mask)  # x + SelfAttn(x)
        if self.ffn_after_attn is not None:
            x = self.ffn_after_attn(x)  # x + c*FFN_2(x)
        return x


class MacaronTransformerDecoderLayer(SplittingLayer, TransformerDecoderLayerBase):
    """Decoder layer of ``--macaron-scheme`` (default: half-step FFN, self-attention, encoder attention,
    half-step FFN). Args as ``TransformerDecoderLayerBase``.

    The FFN steps are position-wise, so incremental decoding needs no state for them: each step's input passes
    through them alone.
    """

    def __init__(self, cfg, no_encoder_attn=False, add_bias_kv=False, add_zero_attn=False):
        super().__init__(cfg, no_encoder_attn, add_bias_kv, add_zero_attn)
        self.build_scheme(cfg, cfg.decoder.ffn_embed_dim, has_encoder_attn=not no_encoder_attn)

    def forward(self, x, encoder_out: Optional[Tensor] = None, encoder_padding_mask: Optional[Tensor] = None,
                incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
                self_attn_mask: Optional[Tensor] = None, self_attn_padding_mask: Optional[Tensor] = None,
                need_attn: bool = False, need_head_weights: bool = False):
        """x: (tgt_len, batch, embed_dim); encoder_out: (src_len, batch, encoder_embed_dim). Returns, as
        fairseq's layer: (output (tgt_len, batch, embed_dim), cross-attention weights or None, None)."""
        need_weights = need_attn or need_head_weights or (not self.training and self.need_attn)
        if self.ffn_before_attn is not None:
            x = self.ffn_before_attn(x)  # x + c*FFN_1(x), c = s = 1/2 under strang
        x = self.self_attn_sub_step(x, self_attn_padding_mask, self_attn_mask, incremental_state)  # x + SelfAttn(x)
        attn: Optional[Tensor] = None
        if self.encoder_attn_sub_step is not None and encoder_out is not None:
            x, attn = self.encoder_attn_sub_step(x, encoder_out, encoder_padding_mask, incremental_state,
                                                 need_weights, need_head_weights)  # x + CrossAttn(x)
        if self.ffn_after_attn is not None:
            x = self.ffn_after_attn(x)  # x + c*FFN_2(x)
        return x, attn, None
