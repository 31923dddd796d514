"""result: every split of one evaluation scored in one process, into one typed record that reads back as written."""

import json
import os
import sys

import pytest
import sacrebleu
from conftest import run

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.scoring import bleu, result
from macaron_tools.scoring.evaluation_record import EvaluationRecord
from test_bleu import HYPOTHESES, REFERENCES, write_generate_log


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "data"
    (data / "refs").mkdir(parents=True)
    for split, lines in (("test", REFERENCES), ("test1", REFERENCES[:2] + REFERENCES[:1])):
        (data / "refs" / f"{split}.tok.en").write_text("\n".join(lines) + "\n")
        (data / "refs" / f"{split}.detok.en").write_text("\n".join(bleu.detokenize(lines, "en")) + "\n")
    return data


def test_one_record_for_every_split(tmp_path, data_dir, capsys):
    for split in ("test", "test1"):
        write_generate_log(tmp_path / f"generate-{split}.log", HYPOTHESES, REFERENCES)
    output = tmp_path / "eval" / "result.json"
    output.parent.mkdir()
    result.main([
        "--output", str(output), "--hypotheses-dir", str(output.parent), "--setting", "multi30k",
        "--source-lang", "de", "--target-lang", "en", "--variant", "lowercase", "--data-dir", str(data_dir),
        "--checkpoint", "run/checkpoint_best.pt", "--beam", "5", "--lenpen", "1.0", "--max-len-a", "1.2",
        "--max-len-b", "10", "--split", "test", str(tmp_path / "generate-test.log"),
        "--split", "test1", str(tmp_path / "generate-test1.log"),
    ])

    record = EvaluationRecord.read(output)
    assert (record.source_lang, record.target_lang, record.primary_split) == ("de", "en", "test")
    assert (record.decoding.beam, record.decoding.max_len_a, record.decoding.max_len_b) == (5, 1.2, 10)
    assert list(record.splits) == ["test", "test1"]
    test = record.primary
    detok_hypotheses = bleu.detokenize(HYPOTHESES, "en")
    # the references are lowercased text, so both sacreBLEU and chrF ignore case
    assert test.sacrebleu == pytest.approx(
        sacrebleu.corpus_bleu(detok_hypotheses, [bleu.detokenize(REFERENCES, "en")], lowercase=True).score)
    assert test.chrf == pytest.approx(
        sacrebleu.metrics.CHRF(lowercase=True).corpus_score(detok_hypotheses, [bleu.detokenize(REFERENCES, "en")]).score)
    assert test.hypotheses == 3 and test.lowercase is True and test.comet is None
    assert test.tokens_per_second == 20.0 and test.references["tok"] == str(data_dir / "refs" / "test.tok.en")
    assert record.splits["test1"].sacrebleu < test.sacrebleu  # scored against its own references
    assert (output.parent / "test1.hyp.detok").read_text().splitlines() == detok_hypotheses
    # what is written is what reads back
    assert json.loads(output.read_text())["splits"]["test"]["chrf_signature"] == test.chrf_signature
    assert "chrF" in capsys.readouterr().out


def test_a_record_of_another_shape_is_refused_in_one_line(tmp_path):
    old = tmp_path / "result.json"
    old.write_text(json.dumps({"setting": "multi30k", "sacrebleu": 30.0, "splits": {}}))
    with pytest.raises(MacaronFairseqError, match="is not an evaluation record of this version.*evaluate the run"):
        EvaluationRecord.read(old)
    with pytest.raises(MacaronFairseqError, match="does not exist: evaluate the run first"):
        EvaluationRecord.read(tmp_path / "absent.json")


def test_comet_model_must_be_a_file(tmp_path, data_dir):
    write_generate_log(tmp_path / "generate-test.log", HYPOTHESES, REFERENCES)
    with pytest.raises(MacaronFairseqError, match="--comet-model .* is a folder"):
        result.main([
            "--output", str(tmp_path / "result.json"), "--hypotheses-dir", str(tmp_path), "--setting", "multi30k",
            "--source-lang", "de", "--target-lang", "en", "--variant", "lowercase", "--data-dir", str(data_dir),
            "--checkpoint", "c.pt", "--beam", "5", "--lenpen", "1", "--max-len-a", "0", "--max-len-b", "200",
            "--split", "test", str(tmp_path / "generate-test.log"), "--comet-model", str(tmp_path),
        ])
    assert not (tmp_path / "result.json").exists()


@pytest.mark.parametrize("output, hypotheses_dir, log, message", [
    ("missing/result.json", "eval", "generate-test.log",
     "--output {tmp}/missing/result.json: its folder {tmp}/missing does not exist: create it or give another path"),
    ("/proc/result.json", "eval", "generate-test.log", "--output /proc/result.json: cannot write in /proc ("),
    ("result.json", "generate-test.log", "generate-test.log",
     "--hypotheses-dir {tmp}/generate-test.log is a file: give a folder to write in"),
    ("result.json", "eval", "eval", "--split test {tmp}/eval is a folder: give the file of fairseq-generate's output "
                                    "for that split"),
    ("result.json", "eval", "generate-test1.log", "--split test {tmp}/generate-test1.log does not exist: decode the "
                                                  "split first (scripts/evaluate.sh), or give its log"),
])
def test_a_path_it_cannot_use_is_one_line_before_any_split_is_scored(tmp_path, data_dir, output, hypotheses_dir,
                                                                       log, message):
    write_generate_log(tmp_path / "generate-test.log", HYPOTHESES, REFERENCES)
    (tmp_path / "eval").mkdir()
    given = sorted(os.listdir(tmp_path))
    completed = run([
        sys.executable, "-m", "macaron_tools.scoring.result", "--output", tmp_path / output, "--hypotheses-dir",
        tmp_path / hypotheses_dir, "--setting", "multi30k", "--source-lang", "de", "--target-lang", "en",
        "--variant", "lowercase", "--data-dir", data_dir, "--checkpoint", "c.pt", "--beam", 5, "--lenpen", 1,
        "--max-len-a", 0, "--max-len-b", 200, "--split", "test", tmp_path / log,
    ], check=False)
    assert completed.returncode == 1 and completed.stdout == ""
    assert completed.stderr.startswith("error: " + message.format(tmp=tmp_path)), completed.stderr
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert sorted(os.listdir(tmp_path)) == given and os.listdir(tmp_path / "eval") == []
