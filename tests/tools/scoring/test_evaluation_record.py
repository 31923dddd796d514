"""The evaluation record read back: a damaged one (a field of the wrong type, a primary split it lacks) is refused
as it is read, in one line naming the file and the field."""

import json

import pytest

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.scoring.evaluation_record import Decoding, EvaluationRecord, SplitScores


def write_record(path, **changes):
    scores = SplitScores(
        hypotheses=3, sacrebleu=30.5, sacrebleu_signature="nrefs:1|case:mixed|eff:no|tok:13a", chrf=50.0,
        chrf_signature="nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no", tokenized_bleu=31, tokenized_bleu_variant=
        "lowercase", lowercase=False, references={"detok": "refs/test.detok.en", "tok": None},
    )
    EvaluationRecord(
        setting="multi30k", source_lang="de", target_lang="en", checkpoint="run/checkpoint_best.pt", averaged=None,
        data_dir="data", decoding=Decoding(5, 1.0, 1.2, 10), primary_split="test", splits={"test": scores},
    ).write(path)
    record = json.loads(path.read_text())
    for dotted, value in changes.items():
        *parents, name = dotted.split("__")
        place = record
        for parent in parents:
            place = place[parent]
        place[name] = value
    path.write_text(json.dumps(record))
    return path


def test_a_record_reads_back_as_written(tmp_path):
    record = EvaluationRecord.read(write_record(tmp_path / "result.json"))
    assert record.primary.sacrebleu == 30.5 and record.primary.tokenized_bleu == 31  # a whole number is a number


@pytest.mark.parametrize("changes, field, shown, expected", [
    ({"splits__test__sacrebleu": "high"}, "splits.test.sacrebleu", '"high"', "a number"),
    ({"splits__test__hypotheses": 2.5}, "splits.test.hypotheses", "2.5", "a whole number"),
    ({"splits__test__chrf": True}, "splits.test.chrf", "true", "a number"),
    ({"splits__test__references": {"detok": 3}}, "splits.test.references.detok", "3", "a string"),
    ({"decoding__beam": None}, "decoding.beam", "null", "a whole number"),
    ({"averaged": "c1.pt"}, "averaged", '"c1.pt"', "a list"),
])
def test_a_field_of_the_wrong_type_is_named_as_the_record_is_read(tmp_path, changes, field, shown, expected):
    path = write_record(tmp_path / "result.json", **changes)
    with pytest.raises(MacaronFairseqError) as refused:
        EvaluationRecord.read(path)
    assert str(refused.value) == (f"{path}: {field} is {shown}, not {expected}: evaluate the run again "
                                  f"(scripts/evaluate.sh)")


def test_a_record_without_its_primary_split_is_refused(tmp_path):
    path = write_record(tmp_path / "result.json", primary_split="valid")
    with pytest.raises(MacaronFairseqError, match=rf'^{path}: primary_split "valid" is none of its splits: evaluate'):
        EvaluationRecord.read(path)
