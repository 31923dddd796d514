"""The Macaron layers against a reference written from the paper's equations (Lu et al. 2019, eq. 11-12):

    encoder: x + s*FFN_1(x) -> x + SelfAttn(x) -> x + s*FFN_2(x)
    decoder: x + s*FFN_1(x) -> x + SelfAttn(x) -> x + CrossAttn(x) -> x + s*FFN_2(x)

each step with its own LayerNorm before the branch (pre-norm) or after the sum (post-norm), and the other
schemes of ``--macaron-scheme`` against theirs.
"""

import collections

import pytest
import torch
import torch.nn.functional as F
from fairseq.models.transformer import TransformerConfig
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase, TransformerEncoderLayerBase

from macaron_fairseq.errors import MacaronFairseqError
from macaron_fairseq.modules.macaron_layer import (
    EncoderAttentionSubStep,
    FeedForwardSubStep,
    MacaronTransformerDecoderLayer,
    MacaronTransformerEncoderLayer,
    SelfAttentionSubStep,
)
from macaron_fairseq.modules.splitting_scheme import SCHEMES

EMBED_DIM, FFN_DIM, HEADS = 16, 8, 2


def layer_config(normalize_before, ffn_scale, scheme="strang", learnable_scale=False):
    cfg = TransformerConfig()
    for side in (cfg.encoder, cfg.decoder):
        side.embed_dim, side.ffn_embed_dim, side.attention_heads = EMBED_DIM, FFN_DIM, HEADS
        side.normalize_before = normalize_before
    cfg.dropout = cfg.attention_dropout = cfg.activation_dropout = 0.0
    cfg.macaron_ffn_scale = ffn_scale
    cfg.macaron_scheme = scheme
    cfg.macaron_learnable_scale = learnable_scale
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


def reference_scheme_layer(x, layer, scheme, pre_norm, c, encoder_out=None):
    """The layer of ``scheme`` from its equations, with coefficients ``c`` by sub-step name; ``encoder_out`` for a
    decoder layer, whose self-attention is causal."""
    causal = torch.triu(torch.full((x.shape[0], x.shape[0]), float("-inf")), 1)

    def ffn_step(name, norm, fc1, fc2):
        return lambda x: step(x, norm, lambda h: ffn(h, fc1, fc2), pre_norm, c[name])

    def self_attn_step(x):
        mask = None if encoder_out is None else causal
        return step(x, layer.self_attn_layer_norm, lambda h: attention(h, h, layer.self_attn, mask), pre_norm,
                    c["self_attn"])

    def encoder_attn_step(x):
        if encoder_out is None:  # an encoder layer
            return x
        return step(x, layer.encoder_attn_layer_norm, lambda h: attention(h, encoder_out, layer.encoder_attn),
                    pre_norm, c["encoder_attn"])

    if scheme == "strang":
        sub_steps = [ffn_step("ffn1", layer.macaron_layer_norm, layer.macaron_fc1, layer.macaron_fc2),
                     self_attn_step, encoder_attn_step, ffn_step("ffn2", layer.final_layer_norm, layer.fc1, layer.fc2)]
    elif scheme == "strang-tied":
        sub_steps = [ffn_step("ffn1", layer.macaron_layer_norm, layer.fc1, layer.fc2),
                     self_attn_step, encoder_attn_step, ffn_step("ffn2", layer.final_layer_norm, layer.fc1, layer.fc2)]
    elif scheme == "lie-trotter":
        sub_steps = [self_attn_step, encoder_attn_step, ffn_step("ffn", layer.final_layer_norm, layer.fc1, layer.fc2)]
    else:
        assert scheme == "reversed-lie-trotter"
        sub_steps = [ffn_step("ffn", layer.final_layer_norm, layer.fc1, layer.fc2), self_attn_step, encoder_attn_step]
    for sub_step in sub_steps:
        x = sub_step(x)
    return x


def fixed_coefficients(scheme, s):
    half = s if scheme.startswith("strang") else 1.0
    return {"ffn1": half, "ffn2": half, "ffn": half, "self_attn": 1.0, "encoder_attn": 1.0}


def randomize_learned_steps(layer):
    """Moves every learned step size off its initial value, so that the test sees whether each is used."""
    coefficients = {}
    for name, parameter in layer.named_parameters():
        if name.endswith("_step"):
            with torch.no_grad():
                parameter.uniform_(0.2, 1.5)
            coefficients[name.removesuffix("_step")] = parameter.item()
    return coefficients


def build_layer(side, scheme, pre_norm, learnable_scale=False, ffn_scale=0.5):
    torch.manual_seed(0)
    cfg = layer_config(pre_norm, ffn_scale, scheme, learnable_scale)
    layer = (MacaronTransformerEncoderLayer(cfg) if side == "encoder" else MacaronTransformerDecoderLayer(cfg)).eval()
    randomize_layer_norms(layer)
    return layer


@pytest.mark.parametrize("learnable_scale", [False, True], ids=["fixed", "learnable"])
@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-norm", "post-norm"])
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scheme_matches_its_equations(scheme, pre_norm, learnable_scale):
    encoder_layer = build_layer("encoder", scheme, pre_norm, learnable_scale, ffn_scale=0.3)
    decoder_layer = build_layer("decoder", scheme, pre_norm, learnable_scale, ffn_scale=0.3)
    c_encoder = c_decoder = fixed_coefficients(scheme, 0.3)
    if learnable_scale:
        c_encoder, c_decoder = randomize_learned_steps(encoder_layer), randomize_learned_steps(decoder_layer)
    x, encoder_out = torch.randn(5, 3, EMBED_DIM), torch.randn(6, 3, EMBED_DIM)
    causal = torch.triu(torch.full((5, 5), float("-inf")), 1)
    with torch.no_grad():
        torch.testing.assert_close(encoder_layer(x, None),
                                   reference_scheme_layer(x, encoder_layer, scheme, pre_norm, c_encoder),
                                   atol=1e-5, rtol=1e-5)
        actual, _, _ = decoder_layer(x, encoder_out=encoder_out, encoder_padding_mask=None, self_attn_mask=causal)
        torch.testing.assert_close(actual,
                                   reference_scheme_layer(x, decoder_layer, scheme, pre_norm, c_decoder, encoder_out),
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-norm", "post-norm"])
def test_lie_trotter_with_a_baselines_weights_is_fairseqs_layer(pre_norm):
    cfg = layer_config(pre_norm, 0.5, "lie-trotter")
    torch.manual_seed(0)
    baseline_encoder, baseline_decoder = TransformerEncoderLayerBase(cfg).eval(), TransformerDecoderLayerBase(cfg).eval()
    randomize_layer_norms(baseline_encoder)
    randomize_layer_norms(baseline_decoder)
    encoder_layer, decoder_layer = MacaronTransformerEncoderLayer(cfg).eval(), MacaronTransformerDecoderLayer(cfg).eval()
    encoder_layer.load_state_dict(baseline_encoder.state_dict())  # strict: the same names, nothing added
    decoder_layer.load_state_dict(baseline_decoder.state_dict())

    x, encoder_out = torch.randn(5, 3, EMBED_DIM), torch.randn(6, 3, EMBED_DIM)
    source_padding = torch.zeros(3, 6, dtype=torch.bool)
    source_padding[0, -2:] = True
    target_padding = torch.zeros(3, 5, dtype=torch.bool)
    target_padding[1, -1] = True
    causal = torch.triu(torch.full((5, 5), float("-inf")), 1)
    banded = torch.ones(6, 6, dtype=torch.bool).triu(3) | torch.ones(6, 6, dtype=torch.bool).tril(-3)
    with torch.no_grad():
        torch.testing.assert_close(encoder_layer(encoder_out, source_padding),
                                   baseline_encoder(encoder_out, source_padding), atol=1e-6, rtol=0)
        torch.testing.assert_close(encoder_layer(encoder_out, source_padding, attn_mask=banded),
                                   baseline_encoder(encoder_out, source_padding, attn_mask=banded), atol=1e-6, rtol=0)
        for weights in ({"need_attn": True}, {"need_head_weights": True}):
            decoder_args = dict(encoder_out=encoder_out, encoder_padding_mask=source_padding, self_attn_mask=causal,
                                self_attn_padding_mask=target_padding, **weights)
            actual, actual_attn, _ = decoder_layer(x, **decoder_args)
            expected, expected_attn, _ = baseline_decoder(x, **decoder_args)
            torch.testing.assert_close(actual, expected, atol=1e-6, rtol=0)
            torch.testing.assert_close(actual_attn, expected_attn, atol=1e-6, rtol=0)
    assert actual_attn.shape == (HEADS, 3, 5, 6)  # per head, when asked for


@pytest.mark.parametrize("learnable_scale", [False, True], ids=["fixed", "learnable"])
@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-norm", "post-norm"])
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_incremental_decoding_equals_the_full_prefix(scheme, pre_norm, learnable_scale):
    layer = build_layer("decoder", scheme, pre_norm, learnable_scale)
    if learnable_scale:
        randomize_learned_steps(layer)
    x, encoder_out = torch.randn(5, 2, EMBED_DIM), torch.randn(6, 2, EMBED_DIM)
    causal = torch.triu(torch.full((5, 5), float("-inf")), 1)
    incremental_state = {}
    with torch.no_grad():
        full, _, _ = layer(x, encoder_out=encoder_out, self_attn_mask=causal)
        steps = [layer(x[t : t + 1], encoder_out=encoder_out, incremental_state=incremental_state)[0]
                 for t in range(x.shape[0])]
    torch.testing.assert_close(torch.cat(steps), full, atol=1e-5, rtol=1e-5)


def test_scheme_parameters_and_their_names():
    def names(scheme, learnable_scale=False):
        cfg = layer_config(True, 0.5, scheme, learnable_scale)
        return {key.rsplit(".", 1)[0] for key in MacaronTransformerDecoderLayer(cfg).state_dict()}

    baseline = {key.rsplit(".", 1)[0] for key in TransformerDecoderLayerBase(layer_config(True, 0.5)).state_dict()}
    assert names("strang") == baseline | {"macaron_fc1", "macaron_fc2", "macaron_layer_norm"}
    assert names("strang-tied") == baseline | {"macaron_layer_norm"}  # one FFN, a LayerNorm per half step
    assert names("lie-trotter") == names("reversed-lie-trotter") == baseline
    assert names("strang", True) - names("strang") == {"ffn1_step", "self_attn_step", "encoder_attn_step", "ffn2_step"}
    assert names("reversed-lie-trotter", True) - baseline == {"ffn_step", "self_attn_step", "encoder_attn_step"}


def test_learned_step_sizes_start_at_the_schemes_coefficients_and_learn():
    encoder_layer = MacaronTransformerEncoderLayer(layer_config(True, 0.3, "strang-tied", learnable_scale=True))
    steps = {name: p for name, p in encoder_layer.named_parameters() if name.endswith("_step")}
    assert {name: p.item() for name, p in steps.items()} == pytest.approx(
        {"ffn1_step": 0.3, "self_attn_step": 1.0, "ffn2_step": 0.3})
    assert type(encoder_layer.fc2) is torch.nn.Linear  # the learned step is the FFN's only coefficient
    encoder_layer(torch.randn(4, 2, EMBED_DIM), None).sum().backward()
    assert all(p.grad is not None and p.grad.item() != 0 for p in steps.values())


@pytest.mark.parametrize("learnable_scale", [False, True], ids=["fixed", "learnable"])
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_sub_steps_are_bound_once_to_the_layers_own_modules(scheme, learnable_scale):
    layer = build_layer("decoder", scheme, pre_norm=True, learnable_scale=learnable_scale)
    sub_steps = layer.sub_steps()
    assert [sub_step.name for sub_step in sub_steps] == [sub_step.name for sub_step in SCHEMES[scheme]]
    encoder_layer = build_layer("encoder", scheme, pre_norm=True, learnable_scale=learnable_scale)
    assert [sub_step.name for sub_step in encoder_layer.sub_steps()] == [
        sub_step.name for sub_step in SCHEMES[scheme] if sub_step.name != "encoder_attn"]

    by_name = {sub_step.name: sub_step for sub_step in sub_steps}
    assert isinstance(by_name["self_attn"], SelfAttentionSubStep)
    assert by_name["self_attn"].attention is layer.self_attn and by_name["self_attn"].norm is layer.self_attn_layer_norm
    assert isinstance(by_name["encoder_attn"], EncoderAttentionSubStep)
    assert by_name["encoder_attn"].attention is layer.encoder_attn
    ffn_steps = [sub_step for sub_step in sub_steps if isinstance(sub_step, FeedForwardSubStep)]
    if scheme == "strang":
        assert [(s.norm, s.fc1, s.fc2) for s in ffn_steps] == [
            (layer.macaron_layer_norm, layer.macaron_fc1, layer.macaron_fc2), (layer.final_layer_norm, layer.fc1, layer.fc2)]
    elif scheme == "strang-tied":  # one FFN, run twice, each time after its own LayerNorm
        assert [(s.norm, s.fc1, s.fc2) for s in ffn_steps] == [
            (layer.macaron_layer_norm, layer.fc1, layer.fc2), (layer.final_layer_norm, layer.fc1, layer.fc2)]
    else:
        assert [(s.norm, s.fc1, s.fc2) for s in ffn_steps] == [(layer.final_layer_norm, layer.fc1, layer.fc2)]
    for sub_step in sub_steps:
        if learnable_scale:
            assert sub_step.coefficient is getattr(layer, f"{sub_step.name}_step")
        else:
            assert sub_step.coefficient == (0.5 if scheme.startswith("strang") and "ffn" in sub_step.name else 1.0)
            assert isinstance(sub_step.coefficient, float)

    x, encoder_out = torch.randn(4, 2, EMBED_DIM), torch.randn(3, 2, EMBED_DIM)
    layer(x, encoder_out=encoder_out)
    assert all(after is before for after, before in zip(layer.sub_steps(), sub_steps))  # not rebuilt per call


def test_a_sub_step_reads_as_its_equation():
    layer = build_layer("decoder", "strang", pre_norm=False, learnable_scale=False)
    assert repr(layer.ffn_before_attn) == (
        "FeedForwardSubStep(ffn1: x + 0.5*macaron_fc2(act(macaron_fc1(x))), macaron_layer_norm after the sum)")
    assert repr(layer.encoder_attn_sub_step) == (
        "EncoderAttentionSubStep(encoder_attn: x + 1*encoder_attn(x, encoder_out), encoder_attn_layer_norm after the sum)")
    learned = build_layer("encoder", "strang-tied", pre_norm=True, learnable_scale=True)
    assert repr(learned.ffn_after_attn) == (
        "FeedForwardSubStep(ffn2: x + ffn2_step*fc2(act(fc1(x))), final_layer_norm before the branch)")
    assert "SubStep(" in repr(learned) and repr(learned).count("(fc1): Linear") == 1


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_sub_steps_add_nothing_to_the_state_dict_and_a_layer_loads_another(scheme):
    """A sub-step holds the layer's modules: the layer alone saves them, under fairseq's names, and loads them."""
    source = build_layer("decoder", scheme, pre_norm=True, learnable_scale=True)
    randomize_learned_steps(source)
    target = MacaronTransformerDecoderLayer(layer_config(True, 0.5, scheme, learnable_scale=True)).eval()
    assert not any(slot in key for key in target.state_dict() for slot in target.SLOTS)
    assert list(target.state_dict()) == list(source.state_dict())
    target.load_state_dict(source.state_dict())  # strict
    x, encoder_out = torch.randn(4, 2, EMBED_DIM), torch.randn(3, 2, EMBED_DIM)
    with torch.no_grad():
        torch.testing.assert_close(target(x, encoder_out=encoder_out)[0], source(x, encoder_out=encoder_out)[0])


def test_a_load_that_assigns_new_parameters_rebinds_the_sub_steps():
    source = build_layer("encoder", "strang", pre_norm=True, learnable_scale=True)
    randomize_learned_steps(source)
    target = MacaronTransformerEncoderLayer(layer_config(True, 0.5, "strang", learnable_scale=True)).eval()
    target.load_state_dict({key: value.clone() for key, value in source.state_dict().items()}, assign=True)
    for sub_step in target.sub_steps():
        assert sub_step.coefficient is getattr(target, f"{sub_step.name}_step")
    x = torch.randn(4, 2, EMBED_DIM)
    with torch.no_grad():
        torch.testing.assert_close(target(x, None), source(x, None))


def test_an_initialisation_applied_to_the_layer_reaches_each_module_once():
    """As RoBERTa applies its BERT initialisation: a module reached twice would draw its weights twice."""
    layer = build_layer("decoder", "strang-tied", pre_norm=True)
    visits = collections.Counter()
    layer.apply(lambda module: visits.update([id(module)]))
    assert max(visits.values()) == 1
    assert {id(module) for module in layer.modules()} == set(visits)


def test_return_fc_is_refused_and_its_default_accepted():
    cfg = layer_config(True, 0.5)
    MacaronTransformerEncoderLayer(cfg, return_fc=False)  # what fairseq's encoder passes
    with pytest.raises(MacaronFairseqError, match="return_fc .* not supported by the Macaron encoder layer"):
        MacaronTransformerEncoderLayer(cfg, return_fc=True)
