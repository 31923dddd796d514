"""The Macaron layers against a reference written from the paper's equations (Lu et al. 2019, eq. 11-12):

    encoder: x + s*FFN_1(x) -> x + SelfAttn(x) -> x + s*FFN_2(x)
    decoder: x + s*FFN_1(x) -> x + SelfAttn(x) -> x + CrossAttn(x) -> x + s*FFN_2(x)

each step with its own LayerNorm before the branch (pre-norm) or after the sum (post-norm).
"""

import pytest
import torch
import torch.nn.functional as F
from fairseq.models.transformer import TransformerConfig

from macaron_fairseq.modules.macaron_layer import (
    MacaronTransformerDecoderLayer,
    MacaronTransformerEncoderLayer,
    ScaledLinear,
)

EMBED_DIM, FFN_DIM, HEADS = 16, 8, 2


def layer_config(normalize_before, ffn_scale):
    cfg = TransformerConfig()
    for side in (cfg.encoder, cfg.decoder):
        side.embed_dim, side.ffn_embed_dim, side.attention_heads = EMBED_DIM, FFN_DIM, HEADS
        side.normalize_before = normalize_before
    cfg.dropout = cfg.attention_dropout = cfg.activation_dropout = 0.0
    cfg.macaron_ffn_scale = ffn_scale
    return cfg


def layer_norm(x, norm):
    return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)


def ffn(x, fc1, fc2):
    return F.linear(F.relu(F.linear(x, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def attention(query, key_value, attn, mask=None):
    """Multi-head attention of `(time, batch, dim)` inputs with fairseq's projection weights."""
    def heads(x):  # (time, batch, dim) -> (batch, heads, time, head_dim)
        return x.view(x.shape[0], x.shape[1], HEADS, -1).permute(1, 2, 0, 3)

    head_dim = EMBED_DIM // HEADS
    q = heads(F.linear(query, attn.q_proj.weight, attn.q_proj.bias)) * head_dim**-0.5
    k = heads(F.linear(key_value, attn.k_proj.weight, attn.k_proj.bias))
    v = heads(F.linear(key_value, attn.v_proj.weight, attn.v_proj.bias))
    scores = q @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores + mask
    out = (scores.softmax(-1) @ v).permute(2, 0, 1, 3).reshape(query.shape)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


def step(x, norm, branch, pre_norm, scale=1.0):
    """One forward Euler step x + scale*branch(x), with its LayerNorm placed pre or post."""
    if pre_norm:
        return x + scale * branch(layer_norm(x, norm))
    return layer_norm(x + scale * branch(x), norm)


def reference_encoder_layer(x, layer, pre_norm, s):
    x = step(x, layer.macaron_layer_norm, lambda h: ffn(h, layer.macaron_fc1, layer.macaron_fc2), pre_norm, s)
    x = step(x, layer.self_attn_layer_norm, lambda h: attention(h, h, layer.self_attn), pre_norm)
    return step(x, layer.final_layer_norm, lambda h: ffn(h, layer.fc1, layer.fc2), pre_norm, s)


def reference_decoder_layer(x, encoder_out, layer, pre_norm, s):
    causal = torch.triu(torch.full((x.shape[0], x.shape[0]), float("-inf")), 1)
    x = step(x, layer.macaron_layer_norm, lambda h: ffn(h, layer.macaron_fc1, layer.macaron_fc2), pre_norm, s)
    x = step(x, layer.self_attn_layer_norm, lambda h: attention(h, h, layer.self_attn, causal), pre_norm)
    x = step(x, layer.encoder_attn_layer_norm, lambda h: attention(h, encoder_out, layer.encoder_attn), pre_norm)
    return step(x, layer.final_layer_norm, lambda h: ffn(h, layer.fc1, layer.fc2), pre_norm, s)


def randomize_layer_norms(layer):
    # LayerNorms start as the identity affine map, under which a misplaced norm could go unnoticed.
    for module in layer.modules():
        if isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.normal_(module.weight, 1.0, 0.3)
            torch.nn.init.normal_(module.bias, 0.0, 0.3)


@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-norm", "post-norm"])
@pytest.mark.parametrize("ffn_scale", [0.5, 0.3])
def test_encoder_layer_matches_reference(pre_norm, ffn_scale):
    torch.manual_seed(0)
    layer = MacaronTransformerEncoderLayer(layer_config(pre_norm, ffn_scale)).eval()
    randomize_layer_norms(layer)
    x = torch.randn(7, 3, EMBED_DIM)
    with torch.no_grad():
        expected = reference_encoder_layer(x, layer, pre_norm, ffn_scale)
        actual = layer(x, encoder_padding_mask=None)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-norm", "post-norm"])
@pytest.mark.parametrize("ffn_scale", [0.5, 0.3])
def test_decoder_layer_matches_reference(pre_norm, ffn_scale):
    torch.manual_seed(0)
    layer = MacaronTransformerDecoderLayer(layer_config(pre_norm, ffn_scale)).eval()
    randomize_layer_norms(layer)
    x, encoder_out = torch.randn(5, 3, EMBED_DIM), torch.randn(6, 3, EMBED_DIM)
    causal = torch.triu(torch.full((5, 5), float("-inf")), 1)
    with torch.no_grad():
        expected = reference_decoder_layer(x, encoder_out, layer, pre_norm, ffn_scale)
        actual, _, _ = layer(x, encoder_out=encoder_out, encoder_padding_mask=None, self_attn_mask=causal)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_the_two_ffns_have_separate_parameters_and_baseline_names():
    layer = MacaronTransformerDecoderLayer(layer_config(True, 0.5))
    names = set(layer.state_dict())
    for name in ("fc1", "fc2", "final_layer_norm", "macaron_fc1", "macaron_fc2", "macaron_layer_norm",
                 "self_attn_layer_norm", "encoder_attn_layer_norm"):
        assert {f"{name}.weight", f"{name}.bias"} <= names
    assert layer.fc1.weight.data_ptr() != layer.macaron_fc1.weight.data_ptr()
    assert layer.fc2.weight.data_ptr() != layer.macaron_fc2.weight.data_ptr()


def test_scaled_linear_scales_output_and_keeps_linear_state_dict_names():
    torch.manual_seed(0)
    scaled = ScaledLinear(4, 3, scale=0.5)
    x = torch.randn(2, 4)
    torch.testing.assert_close(scaled(x), 0.5 * F.linear(x, scaled.weight, scaled.bias))
    assert set(scaled.state_dict()) == {"weight", "bias"}
    assert "scale=0.5" in repr(scaled)


def test_dropout_stays_where_the_baseline_puts_it():
    """With dropout on, the layer is stochastic in training and deterministic in eval, like fairseq's."""
    cfg = layer_config(True, 0.5)
    cfg.dropout = 0.5
    layer = MacaronTransformerEncoderLayer(cfg)
    x = torch.randn(4, 2, EMBED_DIM)
    torch.manual_seed(1)
    first = layer.train()(x, None)
    second = layer(x, None)
    assert not torch.allclose(first, second)
    layer.eval()
    torch.testing.assert_close(layer(x, None), layer(x, None))
