"""TorchScript export of macaron_transformer, as fairseq exports its own transformer: the model, fairseq's
EnsembleModel and its SequenceGenerator scripted, saved and loaded back, each computing what the eager one does."""

import io

import pytest
import torch
from fairseq import options
from fairseq.data import Dictionary
from fairseq.sequence_generator import EnsembleModel, SequenceGenerator
from fairseq.tasks.translation import TranslationTask

from macaron_fairseq.modules.splitting_scheme import SCHEMES

TINY = ["--encoder-layers", 2, "--decoder-layers", 2, "--encoder-embed-dim", 16, "--decoder-embed-dim", 16,
        "--encoder-ffn-embed-dim", 8, "--decoder-ffn-embed-dim", 8, "--encoder-attention-heads", 2,
        "--decoder-attention-heads", 2, "--share-all-embeddings"]
PRE_NORM = ["--encoder-normalize-before", "--decoder-normalize-before"]
VARIANTS = [(scheme, pre_norm, learnable) for scheme in SCHEMES for pre_norm in (True, False)
            for learnable in (False, True)]
VARIANT_IDS = [f"{scheme}-{'pre' if pre else 'post'}-norm{'-learnable' if learnable else ''}"
               for scheme, pre, learnable in VARIANTS]


def tiny_dictionary():
    dictionary = Dictionary()
    for i in range(24):
        dictionary.add_symbol(f"w{i}")
    return dictionary


def build(scheme, pre_norm, learnable_scale):
    """A tiny macaron_transformer in eval mode, built as fairseq-train builds it, with its LayerNorms and learned
    step sizes moved off their initial values so that the outputs depend on each of them."""
    dictionary = tiny_dictionary()
    flags = ["unused-data-dir", "--task", "translation", "--source-lang", "de", "--target-lang", "en",
             "--arch", "macaron_transformer", *TINY, "--macaron-scheme", scheme,
             *(PRE_NORM if pre_norm else []), *(["--macaron-learnable-scale"] if learnable_scale else [])]
    args = options.parse_args_and_arch(options.get_training_parser(), [str(flag) for flag in flags])
    torch.manual_seed(0)
    model = TranslationTask(args, dictionary, dictionary).build_model(args).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("_step"):
                parameter.uniform_(0.3, 1.4)
            elif "layer_norm" in name:
                parameter.normal_(1.0 if name.endswith("weight") else 0.0, 0.3)
    return model, dictionary


def source_batch(dictionary):
    """Three sentences, the first left-padded as fairseq's collater pads sources."""
    generator = torch.Generator().manual_seed(1)
    src_tokens = torch.randint(dictionary.nspecial, len(dictionary), (3, 6), generator=generator)
    src_tokens[0, :2] = dictionary.pad()
    src_tokens[:, -1] = dictionary.eos()
    return src_tokens, torch.tensor([4, 6, 6])


def saved_and_loaded(scripted):
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


@pytest.mark.parametrize("scheme, pre_norm, learnable_scale", VARIANTS, ids=VARIANT_IDS)
def test_scripted_model_computes_the_eager_models_output(scheme, pre_norm, learnable_scale):
    model, dictionary = build(scheme, pre_norm, learnable_scale)
    scripted = saved_and_loaded(torch.jit.script(model))
    src_tokens, src_lengths = source_batch(dictionary)
    prev_output_tokens = torch.cat([torch.full((3, 1), dictionary.eos()), src_tokens[:, :-1]], dim=1)
    with torch.no_grad():
        logits, extra = model(src_tokens, src_lengths, prev_output_tokens)
        scripted_logits, scripted_extra = scripted(src_tokens, src_lengths, prev_output_tokens)
    torch.testing.assert_close(scripted_logits, logits)
    torch.testing.assert_close(scripted_extra["attn"][0], extra["attn"][0])


@pytest.mark.parametrize("scheme, pre_norm, learnable_scale", VARIANTS, ids=VARIANT_IDS)
def test_scripted_sequence_generator_finds_the_eager_hypotheses(scheme, pre_norm, learnable_scale):
    """Beam search decodes incrementally, through EnsembleModel's forward_encoder and forward_decoder."""
    model, dictionary = build(scheme, pre_norm, learnable_scale)
    generator = SequenceGenerator([model], dictionary, beam_size=3, max_len_b=7)
    scripted = saved_and_loaded(torch.jit.script(generator))
    src_tokens, src_lengths = source_batch(dictionary)
    sample = {"net_input": {"src_tokens": src_tokens, "src_lengths": src_lengths}}
    eager_hypotheses, scripted_hypotheses = generator.forward(sample), scripted.forward(sample)
    assert len(scripted_hypotheses) == len(eager_hypotheses) == 3
    for eager_beam, scripted_beam in zip(eager_hypotheses, scripted_hypotheses):
        assert len(scripted_beam) == len(eager_beam) == 3
        for eager, scripted_hypothesis in zip(eager_beam, scripted_beam):
            assert torch.equal(scripted_hypothesis["tokens"], eager["tokens"])
            for key in ("score", "positional_scores", "attention"):
                torch.testing.assert_close(scripted_hypothesis[key], eager[key])


@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre-norm", "post-norm"])
def test_scripted_ensemble_model_encodes_and_takes_a_decoding_step_as_the_eager_one(pre_norm):
    """One step only: the incremental state a scripted method is given from Python is a copy, which the next call
    does not see (the scripted generator above keeps its own, and decodes whole sentences)."""
    model, dictionary = build("strang", pre_norm, learnable_scale=True)
    ensemble = EnsembleModel([model])
    scripted = saved_and_loaded(torch.jit.script(ensemble))
    src_tokens, src_lengths = source_batch(dictionary)
    net_input = {"src_tokens": src_tokens, "src_lengths": src_lengths}
    tokens = torch.full((3, 1), dictionary.eos())
    with torch.no_grad():
        encoder_outs = ensemble.forward_encoder(net_input)
        scripted_encoder_outs = scripted.forward_encoder(net_input)
        lprobs, attn = ensemble.forward_decoder(tokens, encoder_outs, [{}])
        scripted_lprobs, scripted_attn = scripted.forward_decoder(tokens, scripted_encoder_outs, [{}])
    torch.testing.assert_close(scripted_encoder_outs[0]["encoder_out"][0], encoder_outs[0]["encoder_out"][0])
    torch.testing.assert_close(scripted_lprobs, lprobs)
    torch.testing.assert_close(scripted_attn, attn)
