"""scripts/evaluate.sh end to end on a tiny model trained for 30 updates (see tiny_trained_run.py)."""

import json
import re
import shutil

import pytest
from conftest import REPO_ROOT, run
from tiny_trained_run import SIZES, TGT, TOOL_ENV, build_tiny_data, train_tiny_model

from macaron_fairseq.checkpoint.safe_load import load_checkpoint_file

EVALUATE = REPO_ROOT / "scripts" / "evaluate.sh"
SETTING = "multi30k"  # a "lowercase" tokenized BLEU setting from de to en, like the tiny data
RESULT_KEYS = {
    "setting", "source_lang", "target_lang", "checkpoint", "averaged", "data_dir", "decoding", "primary_split",
    "splits",
}
SPLIT_KEYS = {
    "hypotheses", "sacrebleu", "sacrebleu_signature", "chrf", "chrf_signature", "tokenized_bleu",
    "tokenized_bleu_variant", "lowercase", "references", "decode_seconds", "sentences_per_second",
    "generated_tokens", "tokens_per_second",
}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return build_tiny_data(tmp_path_factory.mktemp("tiny_corpus"))


@pytest.fixture(scope="module")
def trained_run(tiny_data, tmp_path_factory):
    return train_tiny_model(tiny_data, tmp_path_factory.mktemp("tiny_run") / "checkpoints")


@pytest.fixture
def copy_data(tiny_data, tmp_path):
    """copy_data(drop=()): a private copy of the tiny data without the ``drop`` paths (relative to it)."""

    def copy(drop=()):
        destination = tmp_path / "data-copy"
        shutil.copytree(tiny_data, destination)
        for relative in drop:
            target = destination / relative
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        return destination

    return copy


def evaluate(*args, check=False):
    return run(["bash", EVALUATE, *args], check=check, env=TOOL_ENV)


def setting_values(*names):
    variables = " ".join(f"${name}" for name in names)
    script = f'source "{REPO_ROOT}/scripts/settings.sh"; load_setting {SETTING}; echo {variables}'
    return run(["bash", "-c", script]).stdout.split()


def updates_of(checkpoint):
    return load_checkpoint_file(checkpoint)["optimizer_history"][-1]["num_updates"]


def assert_one_line_error(completed, *mentions):
    assert completed.returncode != 0
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    for mention in mentions:
        assert str(mention) in lines[0]


def test_average_of_two_newest_scores_every_sentence(trained_run, tiny_data):
    numbered = [p for p in trained_run.glob("checkpoint*.pt") if re.fullmatch(r"checkpoint(\d+|_\d+_\d+)\.pt", p.name)]
    # both kinds, so that their order by update count is tested: epoch checkpoints carry no update count in their name
    assert {"_" in p.stem for p in numbered} == {True, False} and len(numbered) >= 3
    newest_two = sorted(numbered, key=updates_of)[-2:][::-1]

    completed = evaluate("--setting", SETTING, "--checkpoint-dir", trained_run, "--average", 2,
                         "--data-dir", tiny_data, "--cpu")
    assert completed.returncode == 0, completed.stderr

    eval_dir = trained_run / "eval"
    result = json.loads((eval_dir / "result.json").read_text())
    assert RESULT_KEYS == result.keys()
    beam, lenpen, variant = setting_values("BEAM", "LENPEN", "TOKENIZED_BLEU")
    decoding = result["decoding"]
    assert (result["setting"], decoding["beam"], decoding["lenpen"]) == (SETTING, int(beam), float(lenpen))
    assert (result["source_lang"], result["target_lang"]) == ("de", TGT)
    max_len_a, max_len_b = setting_values("MAX_LEN_A", "MAX_LEN_B")
    assert (decoding["max_len_a"], decoding["max_len_b"]) == (float(max_len_a), int(max_len_b))
    generate_config = (eval_dir / "generate-test.log").read_text()
    assert f"'max_len_a': {max_len_a}, 'max_len_b': {max_len_b}," in generate_config
    assert result["averaged"] == [str(p) for p in newest_two]
    assert result["checkpoint"] == str(eval_dir / "checkpoint_avg_last2.pt")
    assert (eval_dir / "checkpoint_avg_last2.pt").is_file()
    assert result["primary_split"] == "test" and list(result["splits"]) == ["test", "test1"]
    primary = result["splits"]["test"]
    assert primary["tokenized_bleu_variant"] == variant
    # the tiny data is lowercased, so sacreBLEU and chrF ignore case, and say so
    assert primary["lowercase"] is True
    assert primary["sacrebleu_signature"].startswith("nrefs:1|case:lc|")
    assert primary["chrf_signature"].startswith("nrefs:1|case:lc|")
    assert 0 <= primary["sacrebleu"] <= 100 and 0 <= primary["tokenized_bleu"] <= 100 and 0 <= primary["chrf"] <= 100
    assert primary["sentences_per_second"] > 0 and primary["tokens_per_second"] > 0

    for split in ("test", "test1"):
        scores = result["splits"][split]
        assert SPLIT_KEYS <= scores.keys()
        # every sentence scored, although 13 and 11 are not multiples of fairseq's batch size multiple (8)
        assert scores["hypotheses"] == SIZES[split]
        assert f"Translated {SIZES[split]} sentences" in (eval_dir / f"generate-{split}.log").read_text()
        hypotheses = (eval_dir / f"{split}.hyp.tok").read_text().splitlines()
        assert len(hypotheses) == len((eval_dir / f"{split}.hyp.detok").read_text().splitlines()) == SIZES[split]
        # in sentence order: line i is fairseq-generate's H-i
        log = (eval_dir / f"generate-{split}.log").read_text()
        hypothesis_lines = dict(re.findall(r"^H-(\d+)\t[^\t]*\t(.*)$", log, flags=re.MULTILINE))
        assert [hypothesis_lines[str(i)] for i in range(SIZES[split])] == hypotheses
    assert not (eval_dir / "partial").exists() and not list(eval_dir.glob("*.tmp*"))
    assert "13 sentences" in completed.stdout and "11 sentences" in completed.stdout


def test_help_prints_usage():
    completed = evaluate("--help", check=True)
    assert "\n  scripts/evaluate.sh --setting S --checkpoint-dir DIR" in completed.stdout
    assert "--average N" in completed.stdout and "Settings (scripts/settings.sh): " in completed.stdout


@pytest.mark.parametrize("args", [["--bleu"], ["--setting"], ["--setting", SETTING, "--average", "x"], [],
                                  # an empty value is no value: --splits "" would decode the default splits
                                  ["--setting", SETTING, "--checkpoint-dir", ".", "--splits", ""],
                                  ["--setting", SETTING, "--checkpoint-dir", ""]])
def test_usage_errors_exit_2_like_every_script(args):
    completed = evaluate(*args)
    assert completed.returncode == 2
    assert_one_line_error(completed, "(see evaluate.sh --help)")


@pytest.fixture
def best_only(trained_run, tmp_path):
    """A checkpoint dir of its own holding checkpoint_best.pt and one numbered checkpoint."""
    checkpoint_dir = tmp_path / "run"
    checkpoint_dir.mkdir()
    shutil.copy(trained_run / "checkpoint_best.pt", checkpoint_dir)
    shutil.copy(trained_run / "checkpoint1.pt", checkpoint_dir)
    return checkpoint_dir


@pytest.mark.parametrize("case", [
    "unknown setting", "unknown option", "missing checkpoint dir", "missing checkpoint file", "no checkpoint_best",
    "too few to average", "missing data dir", "missing refs", "split not binarized",
])
def test_bad_input_fails_in_one_line_without_result(case, best_only, copy_data, tmp_path):
    data = copy_data(drop=[f"refs/test.detok.{TGT}"] if case == "missing refs" else [])
    args = {"--setting": SETTING, "--checkpoint-dir": best_only, "--data-dir": data}
    extra, mentions = [], []
    if case == "unknown setting":
        args["--setting"], mentions = "wmt15", ["unknown setting 'wmt15'", "iwslt14"]
    elif case == "unknown option":
        extra, mentions = ["--bleu"], ["unknown option '--bleu'"]
    elif case == "missing checkpoint dir":
        args["--checkpoint-dir"] = tmp_path / "nowhere"
        mentions = [tmp_path / "nowhere", "does not exist"]
    elif case == "missing checkpoint file":
        extra, mentions = ["--checkpoint", best_only / "checkpoint_9.pt"], [best_only / "checkpoint_9.pt"]
    elif case == "no checkpoint_best":
        (best_only / "checkpoint_best.pt").unlink()
        mentions = ["no checkpoint_best.pt", "--average N"]
    elif case == "too few to average":
        extra, mentions = ["--average", 3], ["--average 3", "found 1"]
    elif case == "missing data dir":
        args["--data-dir"] = tmp_path / "no-data"
        mentions = [tmp_path / "no-data", "does not exist"]
    elif case == "missing refs":
        mentions = [f"refs/test.detok.{TGT}", "prepare the data"]
    elif case == "split not binarized":
        extra, mentions = ["--splits", "test dev"], ["split 'dev'"]

    completed = evaluate(*[part for pair in args.items() for part in pair], *extra, "--cpu")

    assert_one_line_error(completed, *mentions)
    assert not (best_only / "eval" / "result.json").exists()


def test_hypothesis_reference_count_mismatch_fails_and_keeps_the_earlier_evaluation(best_only, copy_data):
    data = copy_data()
    for kind in ("detok", "tok"):
        with open(data / "refs" / f"test.{kind}.{TGT}", "a", encoding="utf-8") as f:
            f.write("an extra reference .\n")
    earlier = best_only / "eval" / "result.json"
    earlier.parent.mkdir()
    earlier.write_text("{}\n")
    (best_only / "eval" / "generate-test.log").write_text("the earlier decoding\n")

    completed = evaluate("--setting", SETTING, "--checkpoint-dir", best_only, "--data-dir", data,
                         "--splits", "test", "--cpu")

    failed_log = best_only / "eval" / "partial" / "generate-test.log"
    assert_one_line_error(completed, "13 hypotheses", "14 references", f"refs/test.detok.{TGT}", failed_log)
    assert failed_log.exists()  # the failed attempt is kept where the error says
    # nothing of the earlier, finished evaluation was replaced
    assert earlier.read_text() == "{}\n"
    assert (best_only / "eval" / "generate-test.log").read_text() == "the earlier decoding\n"


def test_data_without_refs_is_scored_against_target_lines(trained_run, copy_data, tmp_path):
    data = copy_data(drop=["refs"])
    checkpoint_dir = tmp_path / "run"
    checkpoint_dir.mkdir()

    completed = evaluate("--setting", SETTING, "--checkpoint", trained_run / "checkpoint_best.pt",
                         "--checkpoint-dir", checkpoint_dir, "--data-dir", data, "--splits", "test", "--cpu")

    assert completed.returncode == 0, completed.stderr
    assert "no refs/" in completed.stdout
    result = json.loads((checkpoint_dir / "eval" / "result.json").read_text())
    assert result["checkpoint"] == str(trained_run / "checkpoint_best.pt") and result["averaged"] is None
    assert result["splits"]["test"]["references"] == {"detok": None, "tok": "the T- lines of generate-test.log"}
    assert result["splits"]["test"]["hypotheses"] == SIZES["test"] and set(result["splits"]) == {"test"}


def test_a_checkpoint_dir_it_cannot_write_in_is_one_line(best_only, copy_data):
    """eval/ taken by something that is no folder (here /dev/full, which takes no file), as a read-only or full disk
    refuses one."""
    (best_only / "eval").symlink_to("/dev/full")
    completed = evaluate("--setting", SETTING, "--checkpoint-dir", best_only, "--data-dir", copy_data(), "--cpu")
    assert_one_line_error(completed, f"cannot write in {best_only / 'eval'}", "copy the run to a folder you can write")
    assert (best_only / "eval").is_symlink()  # left as it was


def test_a_sentence_longer_than_a_batch_is_named_in_the_error(best_only, copy_data):
    completed = evaluate("--setting", SETTING, "--checkpoint-dir", best_only, "--data-dir", copy_data(), "--cpu",
                         "--max-tokens", 3)
    assert_one_line_error(completed, "fairseq-generate failed on test (a sentence of ",
                          "does not fit in a batch of --max-tokens 3: raise --max-tokens to")
    assert not (best_only / "eval" / "result.json").exists()
