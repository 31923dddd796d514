"""The splitting probe against an RK4 integration of each layer's vector field, written here from its equations."""

import json
import sys

import pytest
import torch
import torch.nn.functional as F
from fairseq import options, tasks

from conftest import REPO_ROOT, TINY_MODEL_FLAGS, run
from macaron_tools.probe.splitting import probe_model

PRE_NORM = ["--encoder-normalize-before", "--decoder-normalize-before"]
RK4_STEPS = 8  # the probe's 64 made cheap: both integrations take the same number


def build(data_bin, arch, *flags):
    """(model, its args) of ``arch`` with the tiny flags, randomly initialised, for the dictionary of ``data_bin``."""
    args = options.parse_args_and_arch(options.get_training_parser(), [
        str(data_bin), "--task", "translation", "--source-lang", "de", "--target-lang", "en", "--arch", arch,
        *map(str, TINY_MODEL_FLAGS), *flags])
    torch.manual_seed(0)
    return tasks.setup_task(args).build_model(args), args


def layer_norm(x, norm):
    return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)


def ffn(x, fc1, fc2, scale):
    return scale * F.linear(F.relu(F.linear(x, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def attention(query, key_value, attn, key_padding_mask, causal=False):
    """fairseq's multi-head attention from its projections: `(time, batch, dim)` inputs, `(batch, time)` padding."""
    heads = attn.num_heads

    def split(x):  # (time, batch, dim) -> (batch, heads, time, head_dim)
        return x.view(x.shape[0], x.shape[1], heads, -1).permute(1, 2, 0, 3)

    q = split(F.linear(query, attn.q_proj.weight, attn.q_proj.bias)) * attn.head_dim**-0.5
    k = split(F.linear(key_value, attn.k_proj.weight, attn.k_proj.bias))
    v = split(F.linear(key_value, attn.v_proj.weight, attn.v_proj.bias))
    scores = q @ k.transpose(-1, -2)
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    if causal:
        scores = scores + torch.triu(torch.full(scores.shape[-2:], float("-inf"), dtype=scores.dtype), 1)
    out = (scores.softmax(-1) @ v).permute(2, 0, 1, 3).reshape(query.shape)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


def vector_field(layer, macaron, decoder_context=None, source_padding=None, target_padding=None):
    """V(x) = sum_k c_k f_k(x) of a pre-norm layer: s*F_1 + A + C + s*F_2 (Macaron), A + C + F (fairseq)."""
    s = 0.5 if macaron else 1.0

    def field(x):
        padding = source_padding if decoder_context is None else target_padding
        v = attention(layer_norm(x, layer.self_attn_layer_norm), layer_norm(x, layer.self_attn_layer_norm),
                      layer.self_attn, padding, causal=decoder_context is not None)
        if decoder_context is not None:
            v = v + attention(layer_norm(x, layer.encoder_attn_layer_norm), decoder_context, layer.encoder_attn,
                              source_padding)
        v = v + ffn(layer_norm(x, layer.final_layer_norm), layer.fc1, layer.fc2, s)
        if macaron:
            v = v + ffn(layer_norm(x, layer.macaron_layer_norm), layer.macaron_fc1, layer.macaron_fc2, s)
        return v

    return field


def runge_kutta_4(field, x, steps):
    h = 1 / steps
    for _ in range(steps):
        k1 = field(x)
        k2 = field(x + 0.5 * h * k1)
        k3 = field(x + 0.5 * h * k2)
        k4 = field(x + h * k3)
        x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def padded_batch(vocabulary, pad):
    """Two sentences of different lengths: the source padded on the left, the target on the right, as fairseq."""
    generator = torch.Generator().manual_seed(1)
    src_tokens = torch.randint(4, vocabulary, (2, 7), generator=generator)
    src_tokens[1, :3] = pad
    prev_output_tokens = torch.randint(4, vocabulary, (2, 6), generator=generator)
    prev_output_tokens[0, -2:] = pad
    return {"src_tokens": src_tokens, "src_lengths": torch.tensor([7, 4]), "prev_output_tokens": prev_output_tokens}


@pytest.mark.parametrize("arch", ["macaron_transformer", "transformer"])
def test_splitting_error_matches_an_independent_rk4_integration(toy_data_bin, arch):
    model, _ = build(toy_data_bin, arch, *PRE_NORM)
    model = model.double().eval()
    pad = model.encoder.padding_idx
    net_input = padded_batch(len(model.encoder.dictionary), pad)
    inputs, outputs = {}, {}

    def recorder(name):
        def record(module, args, output):
            inputs[name], outputs[name] = args, output
        return record

    model.encoder.layers[1].register_forward_hook(recorder("encoder"))
    model.decoder.layers[1].register_forward_hook(recorder("decoder"))
    results = {(layer["stack"], layer["index"]): layer for layer in probe_model(model, [net_input], RK4_STEPS)}

    source_padding = net_input["src_tokens"].eq(pad)
    target_padding = net_input["prev_output_tokens"].eq(pad)
    macaron = arch == "macaron_transformer"
    encoder_input = inputs["encoder"][0]
    decoder_input, encoder_out = inputs["decoder"][:2]
    with torch.no_grad():
        cases = [
            ("encoder", encoder_input, outputs["encoder"], vector_field(
                model.encoder.layers[1], macaron, source_padding=source_padding), source_padding),
            ("decoder", decoder_input, outputs["decoder"][0], vector_field(
                model.decoder.layers[1], macaron, encoder_out, source_padding, target_padding), target_padding),
        ]
        for stack, x, layer_output, field, padding in cases:
            flow = runge_kutta_4(field, x, RK4_STEPS)
            errors = (layer_output - flow).norm(dim=-1) / (flow - x).norm(dim=-1)
            expected = errors.t()[~padding].mean().item()
            assert results[stack, 1]["splitting_error"] == pytest.approx(expected, rel=1e-9)
            assert 0 < expected < 10

    names = {"encoder": ["ffn1", "self_attn", "ffn2"] if macaron else ["self_attn", "ffn"],
             "decoder": ["ffn1", "self_attn", "encoder_attn", "ffn2"] if macaron else ["self_attn", "encoder_attn", "ffn"]}
    for (stack, _), layer in results.items():
        assert list(layer["step_sizes"]) == names[stack]
        assert all(size > 0 for size in layer["step_sizes"].values())


def test_step_sizes_are_those_of_the_sub_steps(toy_data_bin):
    """The first sub-step of a Macaron encoder layer: ||s*F_1(LN(x))|| / ||x||, over non-pad positions."""
    model, _ = build(toy_data_bin, "macaron_transformer", *PRE_NORM)
    model = model.double().eval()
    net_input = padded_batch(len(model.encoder.dictionary), model.encoder.padding_idx)
    captured = {}
    layer = model.encoder.layers[0]
    layer.register_forward_pre_hook(lambda module, args: captured.setdefault("x", args[0]))
    result = probe_model(model, [net_input], rk4_steps=1)[0]
    x = captured["x"]
    with torch.no_grad():
        delta = ffn(layer_norm(x, layer.macaron_layer_norm), layer.macaron_fc1, layer.macaron_fc2, 0.5)
    non_pad = ~net_input["src_tokens"].eq(model.encoder.padding_idx).t()
    expected = (delta.norm(dim=-1) / x.norm(dim=-1))[non_pad].mean().item()
    assert result["step_sizes"]["ffn1"] == pytest.approx(expected, rel=1e-9)


def save_checkpoint(path, model, args):
    """A checkpoint as fairseq-train writes one, before any update."""
    torch.save({"args": args, "model": model.state_dict(), "extra_state": {},
                "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam",
                                       "lr_scheduler_state": {"best": None}, "num_updates": 0}]}, path)


def probe_command(*args):
    return [sys.executable, "-m", "macaron_tools.probe.splitting", *map(str, args)]


def test_command_puts_a_baseline_and_its_macaron_twin_side_by_side(toy_data_bin, tmp_path):
    for arch in ("transformer", "macaron_transformer"):
        save_checkpoint(tmp_path / f"{arch}.pt", *build(toy_data_bin, arch, *PRE_NORM))
    result = run(probe_command("--path", tmp_path / "transformer.pt", "--path", tmp_path / "macaron_transformer.pt",
                               toy_data_bin, "--max-sentences", 2, "--json", tmp_path / "probe.json",
                               "--plot", tmp_path / "probe.png"), cwd=REPO_ROOT, env={"OMP_NUM_THREADS": "1"})
    report = json.loads((tmp_path / "probe.json").read_text())
    assert report["sentences"] == 2 and report["subset"] == "valid" and report["rk4_steps"] == 64
    baseline, macaron = report["checkpoints"]
    assert (baseline["arch"], baseline["scheme"]) == ("transformer", "lie-trotter")
    assert (macaron["arch"], macaron["scheme"]) == ("macaron_transformer", "strang")
    assert [(layer["stack"], layer["index"]) for layer in macaron["layers"]] == [
        ("encoder", 0), ("encoder", 1), ("decoder", 0), ("decoder", 1)]
    assert set(macaron["layers"][2]) == {"stack", "index", "step_sizes", "splitting_error"}
    assert (tmp_path / "probe.png").read_bytes().startswith(b"\x89PNG")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("A: ") and lines[0].endswith("(transformer, lie-trotter)")
    row = next(line for line in lines if line.startswith("decoder  1"))
    assert f"{baseline['layers'][3]['splitting_error']:.4f}" in row and "encoder_attn" in row


def test_post_norm_checkpoints_are_refused_in_one_line(toy_data_bin, tmp_path):
    save_checkpoint(tmp_path / "post.pt", *build(toy_data_bin, "macaron_transformer"))
    result = run(probe_command("--path", tmp_path / "post.pt", toy_data_bin, "--json", tmp_path / "probe.json"),
                 cwd=REPO_ROOT, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the encoder is post-norm: the probe reads pre-norm layers, whose sub-steps are x + c*f(x) "
        "(train with --encoder-normalize-before --decoder-normalize-before)")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "probe.json").exists()


def test_an_output_it_cannot_write_is_refused_before_the_probe_runs(toy_data_bin, tmp_path):
    save_checkpoint(tmp_path / "macaron.pt", *build(toy_data_bin, "macaron_transformer", *PRE_NORM))
    result = run(probe_command("--path", tmp_path / "macaron.pt", toy_data_bin, "--json", tmp_path / "missing" / "p.json"),
                 cwd=REPO_ROOT, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --json {tmp_path / 'missing' / 'p.json'}: its "
                                                             f"folder {tmp_path / 'missing'} does not exist")
    assert result.stdout == ""  # no table: the probe did not run
