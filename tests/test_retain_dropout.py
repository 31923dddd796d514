"""--retain-dropout-modules: fairseq's class names reach the Macaron twins' modules, and the twins' own names the
baseline's."""

import pytest
import torch
from fairseq.modules.fairseq_dropout import FairseqDropout

from macaron_fairseq.retain_dropout import TWIN_MODULE_NAMES, with_twin_names


def test_each_name_stands_for_its_twin_both_ways():
    assert with_twin_names(["TransformerEncoder", "MultiheadAttention"]) == [
        "TransformerEncoder", "MultiheadAttention", "MacaronTransformerEncoder"]
    assert with_twin_names(["MacaronTransformerDecoderLayer"]) == [
        "MacaronTransformerDecoderLayer", "TransformerDecoderLayerBase"]


def test_a_string_from_the_command_line_stays_a_string_with_the_twins_appended():
    assert with_twin_names("TransformerEncoder") == "TransformerEncoder,MacaronTransformerEncoder"
    assert with_twin_names("['TransformerDecoder', 'MultiheadAttention']") == (
        "['TransformerDecoder', 'MultiheadAttention'],MacaronTransformerDecoder")


@pytest.mark.parametrize("given", [list, str])
def test_a_macaron_module_keeps_its_dropout_when_fairseqs_name_is_given(given):
    for baseline, twin in TWIN_MODULE_NAMES.items():
        dropout = FairseqDropout(0.5, module_name=twin)
        dropout.make_generation_fast_("x", retain_dropout=True,
                                      retain_dropout_modules=[baseline] if given is list else baseline)
        dropout.eval()
        assert dropout.apply_during_inference
        assert (dropout(torch.ones(1000)) == 0).any()  # still dropping at inference


def test_other_modules_are_left_as_fairseq_leaves_them():
    dropout = FairseqDropout(0.5, module_name="MultiheadAttention")
    dropout.make_generation_fast_("x", retain_dropout=True, retain_dropout_modules=["TransformerEncoder"])
    assert not dropout.apply_during_inference
