"""BLEU two ways: sacreBLEU on detokenized text and the paper's tokenized variants, and the scoring command."""

import json
import os
import sys

import pytest
import sacrebleu
import torch
from conftest import run
from fairseq.scoring.bleu import BleuConfig, Scorer

from macaron_tools.scoring import bleu
from macaron_tools.scoring.bleu import LineCountError

HYPOTHESES = ["the cat sat on the mat .", "a dog runs in the park today .", "the man sings ."]
REFERENCES = ["the cat sat on a mat .", "the dog runs in the park .", "a man sings loudly ."]


def fairseq_bleu(hypotheses, references):
    """fairseq's own corpus BLEU (what fairseq-generate prints), on whitespace tokens mapped to ids."""
    vocabulary = {}

    def ids(line):
        return torch.IntTensor([vocabulary.setdefault(word, len(vocabulary) + 4) for word in line.split()])

    scorer = Scorer(BleuConfig(pad=1, eos=2, unk=3))
    for hypothesis, reference in zip(hypotheses, references):
        scorer.add(ids(reference), ids(hypothesis))
    return scorer.score()


def test_lowercase_tokenized_bleu_is_fairseqs_bleu_of_lowercased_tokens():
    cased = [line.capitalize() for line in HYPOTHESES]

    assert bleu.lowercase_tokenized_bleu(cased, REFERENCES) == pytest.approx(fairseq_bleu(HYPOTHESES, REFERENCES))
    assert 0 < bleu.lowercase_tokenized_bleu(cased, REFERENCES) < 100


def test_tokenized_bleu_uses_the_given_tokens_only():
    # "mat." as one token does not match "mat ." : no re-tokenization behind the scenes
    assert bleu.lowercase_tokenized_bleu(["the cat sat on the mat."], ["the cat sat on the mat ."]) < 100
    assert bleu.lowercase_tokenized_bleu(["the cat sat on the mat ."], ["the cat sat on the mat ."]) == (
        pytest.approx(100)
    )


def test_split_compounds_like_the_newstest2014_script():
    assert bleu.split_compounds("Hochgeschwindigkeits-Zug") == "Hochgeschwindigkeits ##AT##-##AT## Zug"
    # left to right, matches do not overlap: the classic regular expression leaves the second hyphen of a-b-c
    assert bleu.split_compounds("a-b-c - d -e") == "a ##AT##-##AT## b-c - d -e"


def test_compound_split_bleu_retokenizes_both_sides():
    hypothesis = ['Der Hochgeschwindigkeits-Zug fährt 3-mal "schnell".']
    reference = ["Der Hochgeschwindigkeits-Zug fährt 3-mal schnell."]
    expected_tokens = (
        ['Der Hochgeschwindigkeits ##AT##-##AT## Zug fährt 3 ##AT##-##AT## mal " schnell " .'],
        ["Der Hochgeschwindigkeits ##AT##-##AT## Zug fährt 3 ##AT##-##AT## mal schnell ."],
    )

    assert bleu.compound_split_tokens(hypothesis, "de") == expected_tokens[0]
    assert bleu.compound_split_bleu(hypothesis, reference, "de") == pytest.approx(
        bleu.tokens_bleu(*expected_tokens, lowercase=False)
    )
    # cased: the paper's WMT14 BLEU is case-sensitive
    assert bleu.compound_split_bleu(["der zug fährt."], ["Der Zug fährt."], "de") < 100


def test_detokenize_undoes_moses_tokenization():
    tokenized = ["the cat 's toy @-@ box , \" quoted \" .", "salt &amp; pepper"]

    assert bleu.detokenize(tokenized, "en") == ['the cat\'s toy-box, "quoted".', "salt & pepper"]


def test_sacrebleu_score_and_signature_are_sacrebleus():
    score, signature = bleu.sacrebleu_score(HYPOTHESES, REFERENCES)

    assert score == pytest.approx(sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score)
    assert signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert "case:lc" in bleu.sacrebleu_score(HYPOTHESES, REFERENCES, lowercase=True)[1]


@pytest.mark.parametrize("lowercased_training_text", [True, False])
def test_sacrebleu_ignores_case_only_when_the_tokenized_references_are_lowercased(lowercased_training_text):
    references_detok = ["The cat sat on a mat.", "The dog runs in the park."]
    references_tok = ["The cat sat on a mat .", "The dog runs in the park ."]
    if lowercased_training_text:
        references_tok = [line.lower() for line in references_tok]
    hypotheses_tok = [line.lower() for line in references_tok]

    scores, hypotheses_detok = bleu.score("lowercase", "en", hypotheses_tok, references_tok, references_detok)

    assert hypotheses_detok == [line.lower() for line in references_detok]
    assert scores["tokenized_bleu"] == pytest.approx(100) and scores["hypotheses"] == 2
    assert scores["lowercase"] == lowercased_training_text
    assert ("case:lc" in scores["sacrebleu_signature"]) == lowercased_training_text
    assert ("case:lc" in scores["chrf_signature"]) == lowercased_training_text
    assert (scores["chrf"] == pytest.approx(100)) == lowercased_training_text
    assert (scores["sacrebleu"] == pytest.approx(100)) == lowercased_training_text


def test_chrf_is_sacrebleus_corpus_chrf_with_its_signature():
    score, signature = bleu.chrf_score(HYPOTHESES, REFERENCES)

    assert score == pytest.approx(sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score)
    assert 0 < score < 100
    assert signature.startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:")


def test_count_mismatch_names_both_counts_and_files():
    with pytest.raises(LineCountError) as raised:
        bleu.check_same_count(HYPOTHESES[:2], "generate-test.log", REFERENCES, "refs/test.detok.en")

    message = str(raised.value)
    assert "\n" not in message
    assert "2 hypotheses in generate-test.log but 3 references in refs/test.detok.en" in message


def write_generate_log(path, hypotheses, targets):
    lines = []
    for sentence_id in reversed(range(len(hypotheses))):  # fairseq-generate's order is not the test set's
        lines += [f"T-{sentence_id}\t{targets[sentence_id]}", f"H-{sentence_id}\t-0.4\t{hypotheses[sentence_id]}"]
    lines.append("INFO:fairseq_cli.generate:Translated 3 sentences (30 tokens) in 1.5s (2.00 sentences/s, 20 tokens/s)")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_command_scores_a_generate_log(tmp_path):
    log, ref_tok, ref_detok = tmp_path / "generate-test.log", tmp_path / "test.tok.en", tmp_path / "test.detok.en"
    write_generate_log(log, HYPOTHESES, REFERENCES)
    ref_tok.write_text("\n".join(REFERENCES) + "\n")
    ref_detok.write_text("\n".join(bleu.detokenize(REFERENCES, "en")) + "\n")

    bleu.main([
        "--generate-log", str(log), "--lang", "en", "--variant", "lowercase",
        "--ref-tok", str(ref_tok), "--ref-detok", str(ref_detok), "--json", str(tmp_path / "test.json"),
        "--hyp-tok-out", str(tmp_path / "test.hyp.tok"), "--hyp-detok-out", str(tmp_path / "test.hyp.detok"),
    ])

    assert (tmp_path / "test.hyp.tok").read_text().splitlines() == HYPOTHESES
    assert (tmp_path / "test.hyp.detok").read_text().splitlines() == bleu.detokenize(HYPOTHESES, "en")
    scores = json.loads((tmp_path / "test.json").read_text())
    assert scores["tokenized_bleu"] == pytest.approx(fairseq_bleu(HYPOTHESES, REFERENCES))
    assert scores["hypotheses"] == 3 and scores["sentences_per_second"] == 2.0 and scores["decode_seconds"] == 1.5
    # generated tokens per second, so that decoding cost is not confused with output length
    assert scores["generated_tokens"] == 30 and scores["tokens_per_second"] == 20.0
    assert scores["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(bleu.detokenize(HYPOTHESES, "en"), [bleu.detokenize(REFERENCES, "en")]).score
    )
    assert scores["references"] == {"detok": str(ref_detok), "tok": str(ref_tok)}


def test_command_falls_back_to_the_logs_target_lines(tmp_path, capsys):
    log = tmp_path / "generate-test.log"
    write_generate_log(log, HYPOTHESES, REFERENCES)

    bleu.main(["--generate-log", str(log), "--lang", "en", "--variant", "compound-split"])

    scores = json.loads(capsys.readouterr().out)
    assert scores["references"] == {"detok": None, "tok": "the T- lines of generate-test.log"}
    assert scores["sacrebleu"] == pytest.approx(
        sacrebleu.corpus_bleu(bleu.detokenize(HYPOTHESES, "en"), [bleu.detokenize(REFERENCES, "en")]).score
    )


def test_command_refuses_fewer_hypotheses_than_references(tmp_path):
    log, ref = tmp_path / "generate-test.log", tmp_path / "test.tok.en"
    write_generate_log(log, HYPOTHESES, REFERENCES)
    ref.write_text("\n".join(REFERENCES + ["one more ."]) + "\n")

    with pytest.raises(LineCountError, match=r"3 hypotheses in .*generate-test\.log but 4 references in "):
        bleu.main(["--generate-log", str(log), "--lang", "en", "--variant", "lowercase",
                   "--ref-tok", str(ref), "--ref-detok", str(ref), "--json", str(tmp_path / "test.json")])
    assert not (tmp_path / "test.json").exists()


@pytest.mark.parametrize("hyp_tok, json_path, message", [
    ("a-folder", "test.json", "--hyp-tok {tmp}/a-folder is a folder: give the file of the Moses-tokenized hypotheses, "
                              "one per line"),
    ("test.hyp.tok", "missing/test.json", "--json {tmp}/missing/test.json: its folder {tmp}/missing does not exist: "
                                          "create it or give another path"),
    ("test.hyp.tok", "a-folder", "--json {tmp}/a-folder is a folder: give the name of the file to write"),
    ("test.hyp.tok", "/proc/test.json", "--json /proc/test.json: cannot write in /proc ("),  # no new files, for anyone
])
def test_command_refuses_a_path_it_cannot_use_in_one_line_before_scoring(tmp_path, hyp_tok, json_path, message):
    (tmp_path / "test.tok.en").write_text("\n".join(REFERENCES) + "\n")
    (tmp_path / "test.hyp.tok").write_text("\n".join(HYPOTHESES) + "\n")
    (tmp_path / "a-folder").mkdir()
    given = sorted(os.listdir(tmp_path))

    result = run([sys.executable, "-m", "macaron_tools.scoring.bleu", "--hyp-tok", tmp_path / hyp_tok, "--lang", "en",
                  "--variant", "lowercase", "--ref-tok", tmp_path / "test.tok.en", "--ref-detok",
                  tmp_path / "test.tok.en", "--json", tmp_path / json_path, "--hyp-detok-out",
                  tmp_path / "test.hyp.detok"], check=False)

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: " + message.format(tmp=tmp_path)) and result.stderr.count("\n") == 1, \
        result.stderr
    assert sorted(os.listdir(tmp_path)) == given  # refused before the work: not even --hyp-detok-out was written
