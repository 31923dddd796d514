"""Paired bootstrap resampling through sacreBLEU."""

import json
import random

import pytest
import sacrebleu

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.data import toy_corpus
from macaron_tools.scoring import significance
from macaron_tools.scoring.bleu import LineCountError
from macaron_tools.scoring.significance import paired_bootstrap

SAMPLES = 200  # enough to separate the systems below; sacreBLEU's default is 1000


@pytest.fixture(scope="module")
def references():
    rng = random.Random(7)
    return [toy_corpus.sentence_pair(rng)[1] for _ in range(60)]


def degrade(sentence, every):
    """Drops every ``every``-th word: a worse translation of the same sentence."""
    return " ".join(word for position, word in enumerate(sentence.split(), 1) if position % every)


def test_clearly_better_system_is_significant(references):
    baseline = [degrade(line, 2) for line in references]
    system = [degrade(line, 7) for line in references]

    result = paired_bootstrap(baseline, system, references, samples=SAMPLES)

    assert result.baseline_bleu == pytest.approx(sacrebleu.corpus_bleu(baseline, [references]).score)
    assert result.system_bleu == pytest.approx(sacrebleu.corpus_bleu(system, [references]).score)
    assert result.system_bleu > result.baseline_bleu + 10
    assert result.p_value < 0.05
    assert f"bs:{SAMPLES}" in result.signature and "seed:12345" in result.signature


def test_one_sentence_of_sixty_is_no_significant_difference(references):
    baseline = [degrade(line, 5) for line in references]
    system = baseline[:-1] + [references[-1]]

    result = paired_bootstrap(baseline, system, references, samples=SAMPLES)

    assert result.system_bleu > result.baseline_bleu
    assert result.p_value > 0.05


def test_identical_outputs_are_no_difference(references):
    hypotheses = [degrade(line, 3) for line in references]

    result = paired_bootstrap(hypotheses, list(hypotheses), references, samples=SAMPLES)

    assert result.baseline_bleu == result.system_bleu and result.p_value == 1.0


def test_same_inputs_give_the_same_p_value(references):
    baseline = [degrade(line, 3) for line in references]
    system = [degrade(line, 4) for line in references]

    first = paired_bootstrap(baseline, system, references, samples=SAMPLES)
    second = paired_bootstrap(baseline, system, references, samples=SAMPLES)

    assert first == second


def test_lowercase_scores_ignore_case(references):
    shouting = [line.upper() for line in references]

    assert paired_bootstrap(shouting, references, references, samples=10, lowercase=True).baseline_bleu == (
        pytest.approx(100)
    )
    assert paired_bootstrap(shouting, references, references, samples=10).baseline_bleu < 100


def test_hypotheses_must_pair_with_references(references):
    with pytest.raises(LineCountError, match="59 hypotheses"):
        paired_bootstrap(references, references[:-1], references, samples=10)


def test_command_prints_and_writes_the_result(references, tmp_path, capsys):
    paths = {}
    for name, lines in {"baseline": [degrade(line, 2) for line in references], "system": references,
                        "reference": references}.items():
        paths[name] = tmp_path / f"{name}.detok"
        paths[name].write_text("\n".join(lines) + "\n")

    significance.main(["--baseline", str(paths["baseline"]), "--system", str(paths["system"]),
                       "--reference", str(paths["reference"]), "--samples", "50", "--json", str(tmp_path / "p.json")])

    written = json.loads((tmp_path / "p.json").read_text())
    assert written["system_bleu"] == pytest.approx(100) and written["p_value"] < 0.05 and written["samples"] == 50
    assert f"p = {written['p_value']:.4f}" in capsys.readouterr().out


def test_equal_scores_of_different_outputs_are_no_difference():
    references = ["a cat sits on the mat .", "the dog runs ."] * 5
    nothing_right = ["zzz"] * 10
    other_nothing = ["qqq qqq"] * 10
    result = paired_bootstrap(nothing_right, other_nothing, references, samples=100)
    assert result.baseline_bleu == result.system_bleu == 0.0
    assert result.p_value == 1.0


def test_command_refuses_a_folder_input_and_an_unwritable_json_before_resampling(references, tmp_path, capsys):
    for name in ("baseline", "system", "reference"):
        (tmp_path / f"{name}.detok").write_text("\n".join(references) + "\n")
    common = ["--baseline", str(tmp_path / "baseline.detok"), "--reference", str(tmp_path / "reference.detok"),
              "--samples", "50"]

    with pytest.raises(MacaronFairseqError, match=rf"^--system {tmp_path} is a folder: give the file of the system's "
                                                  rf"detokenized hypotheses$"):
        significance.main([*common, "--system", str(tmp_path)])
    with pytest.raises(MacaronFairseqError, match=rf"^--json {tmp_path}/missing/p.json: its folder {tmp_path}/missing "
                                                  rf"does not exist: create it or give another path$"):
        significance.main([*common, "--system", str(tmp_path / "system.detok"), "--json",
                           str(tmp_path / "missing" / "p.json")])
    assert capsys.readouterr().out == ""  # nothing resampled, nothing printed
