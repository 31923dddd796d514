"""The perplexity record and the parsing of fairseq-eval-lm's and fairseq-validate's output."""

import pytest

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.scoring import lm_evaluation
from macaron_tools.scoring.lm_evaluation import LanguageModelRecord, SplitPerplexity

VALIDATE_OUTPUT = """\
2026-12-02 00:16:30 | INFO | valid | valid on 'valid' subset | loss 11.291 | ppl 2505.82 | wps 0 | wpb 15960 | bsz 288
2026-12-02 00:16:43 | INFO | test | valid on 'test' subset | loss 11.287 | ppl 2499 | wps 0 | wpb 15468 | bsz 276
"""


def test_eval_lm_result_lines_are_read():
    output = ("2026-12-02 | INFO | fairseq_cli.eval_lm | Evaluated 15,672 tokens in 2.1s (7462.86 tokens/s)\n"
              "2026-12-02 | INFO | fairseq_cli.eval_lm | Loss (base 2): 11.2574, Perplexity: 2447.97\n")
    assert lm_evaluation.parse_eval_lm(output) == (11.2574, 2447.97, 15672)
    assert lm_evaluation.parse_eval_lm("no result here") is None


def test_validate_summaries_are_read_per_split():
    assert lm_evaluation.parse_validate(VALIDATE_OUTPUT) == {"valid": (11.291, 2505.82), "test": (11.287, 2499.0)}


def test_record_round_trip_and_refusals(tmp_path):
    record = LanguageModelRecord("masked_lm", "c.pt", "data", "fairseq-validate", {"valid": SplitPerplexity(3.0, 8.0)})
    record.write(tmp_path / "lm_result.json")
    assert LanguageModelRecord.read(tmp_path / "lm_result.json") == record
    with pytest.raises(MacaronFairseqError, match="does not exist: evaluate the run first"):
        LanguageModelRecord.read(tmp_path / "missing.json")
    (tmp_path / "old.json").write_text('{"task": "masked_lm"}')
    with pytest.raises(MacaronFairseqError, match="is not a perplexity record of this version"):
        LanguageModelRecord.read(tmp_path / "old.json")


def test_a_run_without_checkpoint_is_one_line(tmp_path, capsys):
    assert lm_evaluation.main(["--task", "language_modeling", "--data-dir", str(tmp_path),
                               "--checkpoint-dir", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path}/run/checkpoint_best.pt does not exist: train the run "
                                       "first (scripts/train.sh)\n")
