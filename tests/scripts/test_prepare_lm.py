"""scripts/prepare-lm.sh from raw monolingual text: cleaned, sentencepiece, fairseq-preprocess --only-source, its
facts in lm_corpus.json, a rerun that reuses the result; word-level text given by a {split} name; bad input."""

import gzip
import json
import random

import pytest
from fairseq.data import Dictionary, data_utils

from conftest import REPO_ROOT, run
from macaron_tools.data import toy_corpus

PREPARE_LM = REPO_ROOT / "scripts" / "prepare-lm.sh"
SIZES = {"train": 200, "valid": 13, "test": 11}
ENV = {"OMP_NUM_THREADS": "1"}


def english(count, seed):
    rng = random.Random(seed)
    return [toy_corpus.sentence_pair(rng)[1] for _ in range(count)]


def write_text(prefix, splits, gzip_test=True):
    """PREFIX.SPLIT files (the test split as .gz); returns their lines."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for split, lines in splits.items():
        text = "".join(line + "\n" for line in lines).encode("utf-8")
        path = prefix.with_name(f"{prefix.name}.{split}")
        if split == "test" and gzip_test:
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(text))
        else:
            path.write_bytes(text)
    return splits


def binarized(out, split):
    dictionary = Dictionary.load(str(out / "dict.txt"))
    return data_utils.load_indexed_dataset(str(out / split), dictionary), dictionary


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    splits = {split: english(count, seed) for seed, (split, count) in enumerate(SIZES.items())}
    splits["train"] += ["", "a line far too long to keep " * 4]  # dropped from train: empty, above --max-tokens
    splits["valid"][3] = ""  # an evaluation split keeps every line
    write_text(root / "raw" / "text", splits)
    out = root / "data-bin" / "toy-en"
    command = ["bash", PREPARE_LM, "--text", root / "raw" / "text", "--bpe-size", 60, "--max-tokens", 12,
               "--out", out, "--work-dir", root / "work"]
    first = run(command, env=ENV)
    second = run(command, env=ENV)
    return out, first, second


def test_every_split_is_binarized_with_its_lines(prepared):
    out, first, _ = prepared
    assert len(binarized(out, "train")[0]) == SIZES["train"]  # the empty and the long line are gone
    valid, dictionary = binarized(out, "valid")
    assert len(valid) == SIZES["valid"] and valid[3].tolist() == [dictionary.eos()]
    assert len(binarized(out, "test")[0]) == SIZES["test"]
    assert "[clean] train: kept 200 of 202 lines (dropped: 1 empty side, 1 too long)" in first.stderr
    assert first.stdout.splitlines()[-3].split()[:2] == ["train", "200"]


def test_the_text_is_moses_tokenized_and_encoded_with_sentencepiece(prepared):
    out, _, _ = prepared
    train, dictionary = binarized(out, "train")
    pieces = dictionary.string(train[0]).split()
    assert pieces[0].startswith("\u2581") and pieces[-1] == "\u2581."  # Moses split off the full stop
    assert (out / "spm.model").exists() and (out / "spm.vocab").exists()
    facts = json.loads((out / "lm_corpus.json").read_text())
    assert (facts["lang"], facts["bpe_size"], facts["bpe_model"], facts["name"]) == ("en", 60, "spm.model", "toy-en")
    assert facts["splits"] == ["train", "valid", "test"] and facts["cleaning"] == {"min_tokens": 1, "max_tokens": 12}
    assert facts["moses"]["lowercase"] is False


def test_a_second_run_with_the_same_inputs_reuses_the_result(prepared):
    _, _, second = prepared
    assert "is up to date" in second.stdout and "binarizing" not in second.stdout


def test_tokenized_text_named_by_split_keeps_its_words(tmp_path):
    lines = {split: [line.lower() for line in english(count, 5)] for split, count in SIZES.items()}
    for split, text in lines.items():
        (tmp_path / f"wiki.{split}.tokens").write_text("".join(line + "\n" for line in text))
    out = tmp_path / "wiki"
    run(["bash", PREPARE_LM, "--text", tmp_path / "wiki.{split}.tokens", "--tokenized", "--bpe-size", 0,
         "--out", out, "--work-dir", tmp_path / "work"], env=ENV)
    train, dictionary = binarized(out, "train")
    assert dictionary.string(train[0]) == lines["train"][0]  # "today." stays one word: no Moses step
    assert not (out / "spm.model").exists()
    assert json.loads((out / "lm_corpus.json").read_text())["moses"] is None


@pytest.mark.parametrize("args, status, message", [
    ([], 2, "--out is required"),
    (["--out", "OUT", "--bpe-size", "many"], 2, "--bpe-size must be a whole number, got 'many'"),
    (["--out", "OUT", "--text", "/nonexistent/text"], 1, "--text /nonexistent/text: there is no /nonexistent/text.train"),
    (["--out", "OUT", "--lang", "fr"], 2, "Multi30k has en and de"),
])
def test_bad_input_gets_one_line(tmp_path, args, status, message):
    args = [str(tmp_path / "out") if arg == "OUT" else arg for arg in args]
    result = run(["bash", PREPARE_LM, *args], check=False, env=ENV)
    assert result.returncode == status and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_without_multi30k_it_says_where_it_looked(tmp_path):
    result = run(["bash", PREPARE_LM, "--out", tmp_path / "out"], check=False,
                 env={**ENV, "MULTI30K_RAW_DIR": str(tmp_path / "none")})
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: no Multi30k text at {tmp_path}/none/train.en.gz: set MULTI30K_RAW_DIR "
                                     "to the folder of Multi30k task 1's raw .gz files, or pass --text PREFIX")


def test_an_out_holding_a_users_files_is_refused_and_they_are_kept(tmp_path):
    write_text(tmp_path / "raw" / "text", {split: english(count, seed) for seed, (split, count) in enumerate(SIZES.items())})
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.txt").write_text("three years\n")
    result = run(["bash", PREPARE_LM, "--text", tmp_path / "raw" / "text", "--bpe-size", 60, "--out", out,
                  "--work-dir", tmp_path / "work"], env=ENV, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: --out {out} holds files that a prepared result does not (thesis.txt), and replacing it would delete "
        f"them: give an empty or new folder, or move them out first")
    assert sorted(path.name for path in out.iterdir()) == ["thesis.txt"]
    assert not (tmp_path / "work").exists()
