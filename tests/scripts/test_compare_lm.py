"""scripts/compare.sh on the language-model settings at tiny scale: both models of lm-quick (causal) and mlm-quick
(masked) trained side by side for a few updates, scored by perplexity on valid and test, and the report; a second
call takes the finished runs; translation's own options are refused."""

import json
import os

import pytest

from conftest import REPO_ROOT, run
from test_prepare_lm import SIZES, english, write_text

COMPARE_SH = REPO_ROOT / "scripts" / "compare.sh"
ENV = {"OMP_NUM_THREADS": "1"}
TINY = {
    "lm-quick": ["--decoder-layers", 1, "--decoder-embed-dim", 32, "--decoder-input-dim", 32,
                 "--decoder-output-dim", 32, "--decoder-attention-heads", 2],
    "mlm-quick": ["--encoder-layers", 1, "--encoder-embed-dim", 32, "--encoder-attention-heads", 2],
}
ARCHITECTURES = {"lm-quick": ("transformer_lm", "macaron_transformer_lm"),
                 "mlm-quick": ("roberta", "macaron_roberta")}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-lm")
    write_text(root / "raw" / "text", {split: english(count, seed) for seed, (split, count) in enumerate(SIZES.items())})
    out = root / "data-bin" / "toy-en"
    run(["bash", REPO_ROOT / "scripts" / "prepare-lm.sh", "--text", root / "raw" / "text", "--bpe-size", 60,
         "--out", out, "--work-dir", root / "work"], env=ENV)
    return root, out


def compare(root, data, setting, *extra, check=True):
    return run(["bash", COMPARE_SH, "--setting", setting, "--cpu", "--parallel", "--max-update", 3, "--seeds", 1,
                "--data-dir", data, "--runs-dir", root / setting, "--output", root / "results" / f"{setting}.md",
                *extra, "--", "--max-tokens", 256, "--", *TINY[setting]], env=ENV, check=check)


@pytest.fixture(scope="module", params=sorted(TINY))
def compared(request, data):
    root, out = data
    first = compare(root, out, request.param)
    return request.param, root, first


def test_the_report_gives_both_models_perplexities_and_costs(compared):
    setting, root, first = compared
    report = (root / "results" / f"{setting}.md").read_text()
    baseline, macaron = ARCHITECTURES[setting]
    for model, arch in (("baseline", baseline), ("macaron", macaron)):
        assert f"| {model} | `{arch}` |" in report
        assert f"[compare] {model} seed 1: valid epoch" in first.stdout
        record = json.loads((root / setting / f"{model}-seed1" / "eval" / "lm_result.json").read_text())
        assert set(record["splits"]) == {"valid", "test"}
        assert record["tool"].startswith("fairseq-eval-lm" if setting == "lm-quick" else "fairseq-validate")
    assert "valid perplexity" in report and "test perplexity" in report
    assert ("fairseq-eval-lm: every token" if setting == "lm-quick" else "the masked-token loss") in report
    assert f"scripts/compare.sh --setting {setting}" in report
    assert (root / "results" / f"{setting}-valid-loss.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((root / "results" / f"{setting}.json").read_text())
    assert summary["task"] == ("language_modeling" if setting == "lm-quick" else "masked_lm")
    assert [(r["model"], r["seed"], r["updates"], r["stopped"]) for r in summary["runs"]] == [
        ("baseline", 1, 3, "max-update"), ("macaron", 1, 3, "max-update")]
    for run_fields in summary["runs"]:
        for split in ("valid", "test"):
            scores = run_fields["splits"][split]
            assert scores["perplexity"] == pytest.approx(2 ** scores["loss"], rel=1e-2) and scores["loss"] > 0
    pair = summary["pairs"][0]
    # three updates may take under fairseq's whole second of train_wall: no tokens/s then, but the field is there
    assert "train_tokens_per_s_ratio" in pair and pair["peak_memory_ratio"] > 0
    if len(os.sched_getaffinity(0)) >= 2:
        assert summary["parallel"] is True and pair["sharing"].startswith("at the same time, baseline on cores")
        assert "[compare] evaluating side by side: baseline seed 1 on CPU core" in first.stdout


def test_the_validation_perplexity_is_the_one_training_logged(compared):
    setting, root, _ = compared
    record = json.loads((root / setting / "macaron-seed1" / "eval" / "lm_result.json").read_text())
    log = (root / setting / "macaron-seed1" / "train.log").read_text()
    last_valid = [line for line in log.splitlines() if "valid on 'valid' subset" in line][-1]
    assert f"loss {record['splits']['valid']['loss']:.3f}" in last_valid  # the same tokens, masks and model


def test_second_call_takes_the_finished_runs(compared, data):
    setting, root, _ = compared
    second = compare(root, data[1], setting)
    assert second.stdout.count("taking the finished run") == 2 and "training into" not in second.stdout
    assert "evaluating" not in second.stdout


@pytest.mark.parametrize("option", [["--average", "5"], ["--targets"], ["--comet-model", "x.ckpt"]])
def test_translation_options_are_refused(data, option):
    root, out = data
    result = run(["bash", COMPARE_SH, "--setting", "lm-quick", "--cpu", "--data-dir", out, *option], check=False)
    assert result.returncode == 2 and "are for translation settings, not language_modeling" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_data_without_a_dictionary_is_refused(tmp_path):
    result = run(["bash", COMPARE_SH, "--setting", "mlm-quick", "--cpu", "--data-dir", tmp_path], check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: no dict.txt in {tmp_path}: prepare the text of setting mlm-quick "
                                     "first (scripts/prepare-lm.sh) or pass --data-dir")
