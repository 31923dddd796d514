"""The parity table: each twin's excess is 3·d per layer, and the command prints it."""

import pytest

from macaron_tools import parity

# (Macaron architecture, its task, layers, d), from fairseq's presets
CHECKED_TWINS = [
    ("macaron_transformer_iwslt_de_en", "translation", 6 + 6, 512),
    ("macaron_transformer_lm_gpt2_tiny", "language_modeling", 2, 64),
    ("macaron_roberta_base", "masked_lm", 12, 768),
]


@pytest.mark.parametrize("macaron_arch, task_name, layers, embed_dim", CHECKED_TWINS)
def test_excess_is_three_d_per_layer(macaron_arch, task_name, layers, embed_dim):
    dictionary = parity.dictionary_of(1000, task_name)
    assert len(dictionary) == 1000 - (task_name == "masked_lm")  # masked_lm adds <mask>
    row = parity.parity_row(macaron_arch, task_name, dictionary)
    assert row["dictionary_size"] == 1000
    assert (row["layers"], row["embed_dims"]) == (layers, [embed_dim])
    assert row["excess"] == 3 * embed_dim * layers


def test_excess_of_the_tiny_lm_is_large_only_against_a_small_dictionary():
    small, realistic = (parity.parity_row("macaron_transformer_lm_gpt2_tiny", "language_modeling",
                                          parity.dictionary_of(size, "language_modeling")) for size in (1000, 50_000))
    assert small["excess"] == realistic["excess"] == 384
    assert small["excess"] / small["baseline_parameters"] > 0.002  # past the 0.1 % of parity
    assert realistic["excess"] / realistic["baseline_parameters"] < 0.001


def test_wiki103_preset_takes_wikitext103_vocabulary_below_its_cutoffs():
    assert parity.dictionary_size_for("macaron_transformer_lm_wiki103", 50_000) == 267_744
    assert parity.dictionary_size_for("macaron_transformer_lm_wiki103", 70_000) == 70_000
    assert parity.dictionary_size_for("macaron_transformer_lm_gpt", 1000) == 1000


def test_table_prints_every_row_and_marks_another_dictionary():
    rows = [
        {"task": "masked_lm", "macaron_arch": "macaron_roberta", "baseline_arch": "roberta",
         "dictionary_size": 50_000, "layers": 12, "embed_dims": [768], "baseline_parameters": 124_886_096,
         "excess": 27_648},
        {"task": "language_modeling", "macaron_arch": "macaron_transformer_lm_wiki103",
         "baseline_arch": "transformer_lm_wiki103", "dictionary_size": 267_744, "layers": 16, "embed_dims": [1024],
         "baseline_parameters": 246_933_504, "excess": 49_152},
    ]
    lines = parity.format_table(rows, 50_000).splitlines()
    assert "| masked_lm | `macaron_roberta` | `roberta` | 12 × 768 | 124,886,096 | +27,648 | +0.0221 |" in lines
    assert ("| language_modeling | `macaron_transformer_lm_wiki103` | `transformer_lm_wiki103` | 16 × 1024 "
            "| 246,933,504 ¹ | +49,152 | +0.0199 |") in lines
    assert lines[-1].startswith("¹ with 267,744 symbols")


def test_table_has_every_fairseq_preset_of_the_three_tasks():
    baselines = {task: sorted(baseline for baseline, _ in twins.values())
                 for task, (twins, _, _) in parity.FAMILIES.items()}
    assert len(baselines["translation"]) == 6
    assert baselines["language_modeling"] == sorted(
        ["transformer_lm", "transformer_lm_big", "transformer_lm_wiki103", "transformer_lm_gbw", "transformer_lm_gpt",
         "transformer_lm_gpt2_tiny", "transformer_lm_gpt2_small", "transformer_lm_gpt2_medium",
         "transformer_lm_gpt2_big"])
    assert baselines["masked_lm"] == sorted(["roberta", "roberta_prenorm", "roberta_base", "roberta_large", "xlm"])


def test_too_small_dictionary_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parity.main(["--dictionary-size", "4"])
    assert exit_info.value.code == 2
    assert "error: --dictionary-size must be at least 5" in capsys.readouterr().err
