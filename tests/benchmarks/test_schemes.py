"""benchmarks/schemes.sh: its help, its refusals, the scheme -> flags mapping, every command printed by --dry-run,
and its resumption: finished runs taken as they are, a missing measurement made again, another budget refused.

Nothing here trains: the whole pipeline at tiny scale (four schemes, 3 updates each) takes over 90 s on 2 CPU
cores, which the tests leave to `bash benchmarks/schemes.sh --quick`."""

import json
import os

import pytest

from conftest import BIN_DIR, REPO_ROOT, run

SCHEMES_SH = REPO_ROOT / "benchmarks" / "schemes.sh"
TRAIN_SCHEME_SH = REPO_ROOT / "benchmarks" / "lib" / "train-scheme.sh"
SCHEMES = ("strang", "strang-tied", "lie-trotter", "reversed-lie-trotter")
TOOL_ENV = {"PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}


def test_help_names_the_pairs_and_the_options():
    result = run(["bash", SCHEMES_SH, "--help"])
    assert "strang with lie-trotter" in result.stdout and "strang-tied with reversed-lie-trotter" in result.stdout
    for option in ("--seeds", "--max-update", "--runs-dir", "--output", "--quick", "--dry-run"):
        assert option in result.stdout
    assert result.stdout.startswith("Benchmark of the four splitting schemes")


@pytest.mark.parametrize("args, status, message", [
    (["--fast"], 2, "error: unknown option '--fast' (see schemes.sh --help)"),
    (["--seeds", "one"], 2, "error: seed 'one' is not a whole number"),
    (["--seeds", " "], 2, "error: --seeds names no seed"),
    (["--max-update", "0"], 2, "error: --max-update must be a whole number above 0, got '0'"),
    (["--probe-sentences", "many"], 2, "error: --probe-sentences must be a whole number above 0, got 'many'"),
    (["--output", "report.txt"], 2, "error: --output must name a .md file"),
    (["--", "--seed", "3"], 2, "error: --seed after -- is this script's to set"),
    (["--", "--max-tokens", "1000", "--", "--macaron-scheme", "strang"], 2,
     "error: --macaron-scheme is set by the scheme: leave it out"),
    (["--", "--", "--decoder-ffn-embed-dim=64"], 2, "error: --decoder-ffn-embed-dim is set by the scheme"),
    (["--", "--max-tokens", "lots"], 2, "error: --max-tokens must be a positive whole number"),
    (["--data-dir", "/nonexistent/data"], 1, "error: --data-dir /nonexistent/data is not a folder"),
])
def test_bad_arguments_get_one_line_and_nothing_is_written(tmp_path, args, status, message):
    result = run(["bash", SCHEMES_SH, "--runs-dir", tmp_path / "runs", *args], check=False, env=TOOL_ENV)
    assert result.returncode == status
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def test_train_scheme_gives_each_scheme_its_flag_and_ffn_width(tmp_path):
    widths = {}
    for scheme in SCHEMES:
        command = run(["bash", TRAIN_SCHEME_SH, scheme, "--setting", "multi30k-quick", "--cpu", "--dry-run",
                       "--save-dir", tmp_path / scheme]).stdout.split()
        assert command[command.index("--arch") + 1] == "macaron_transformer"
        assert command[command.index("--macaron-scheme") + 1] == scheme
        # argparse keeps the last value: the setting's half width first, a one-FFN scheme's full width after it
        last = len(command) - 1 - command[::-1].index("--encoder-ffn-embed-dim")
        widths[scheme] = (command[last + 1], command[command.index("--decoder-ffn-embed-dim", last) + 1])
    assert widths == {"strang": ("256", "256"), "strang-tied": ("512", "512"), "lie-trotter": ("512", "512"),
                      "reversed-lie-trotter": ("512", "512")}
    refused = run(["bash", TRAIN_SCHEME_SH, "euler", "--setting", "multi30k-quick"], check=False)
    assert refused.returncode == 2 and refused.stderr.startswith(
        "error: unknown scheme 'euler': choose one of strang strang-tied lie-trotter reversed-lie-trotter")


def test_dry_run_prints_every_command_and_runs_none(tmp_path):
    result = run(["bash", SCHEMES_SH, "--dry-run", "--seeds", "1 2", "--runs-dir", tmp_path / "runs",
                  "--output", tmp_path / "schemes.md"], env=TOOL_ENV)
    steps = [line.split(":", 1)[0] for line in result.stdout.splitlines()]
    per_seed = lambda seed: [  # noqa: E731
        f"[schemes] train seed {seed}", f"[schemes] evaluate seed {seed}", f"[schemes] probe seed {seed}",
        f"[schemes] train seed {seed}", f"[schemes] evaluate seed {seed}", f"[schemes] probe seed {seed}"]
    assert steps == ["[schemes] data", *per_seed(1), *per_seed(2), "[schemes] report"]
    train = next(line for line in result.stdout.splitlines() if line.startswith("[schemes] train seed 2"))
    assert f"--cpu --run strang {tmp_path}/runs/strang-seed2 --run lie-trotter {tmp_path}/runs/lie-trotter-seed2" \
        in train
    assert "benchmarks/lib/train-scheme.sh \\{model\\}" in train and "--max-update 600" in train
    evaluate = next(line for line in result.stdout.splitlines() if line.startswith("[schemes] evaluate seed 1"))
    assert "--stage evaluation" in evaluate and "scripts/evaluate.sh --setting multi30k-quick" in evaluate
    probe = [line for line in result.stdout.splitlines() if line.startswith("[schemes] probe seed 1")][1]
    assert f"--stage probe --label seed\\ 1 --cpu --run strang-tied {tmp_path}/runs/strang-tied-seed1" in probe
    assert "--path \\{run_dir\\}/checkpoint_best.pt" in probe and "--subset valid --max-sentences 100" in probe
    assert "--command bash\\ benchmarks/schemes.sh" in result.stdout.splitlines()[-1]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "schemes.md").exists()


PARAMETERS = {"strang": 1_924_096, "strang-tied": 1_923_584, "lie-trotter": 1_922_560,
              "reversed-lie-trotter": 1_922_560}


def plant_finished_run(runs, scheme, partner, cpu, bleu, error, max_update=3):
    """A run folder as schemes.sh leaves it after training, evaluation and probe, without training anything: its
    train.log (ending in "done training"), train_command.txt, training_run.json, eval/result.json, splitting.json."""
    run_dir = runs / f"{scheme}-seed1"
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "train.log").write_text(
        "2026-01-01 10:00:00 | INFO | fairseq_cli.train | Namespace(arch='macaron_transformer', seed=1)\n"
        f"2026-01-01 10:00:01 | INFO | fairseq_cli.train | num. shared model params: {PARAMETERS[scheme]:,} "
        f"(num. trained: {PARAMETERS[scheme]:,})\n"
        "2026-01-01 10:00:40 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 9.5 | nll_loss 9.4 | "
        f"ppl 700 | wps 500 | wpb 164.7 | bsz 20.3 | num_updates {max_update}\n"
        "2026-01-01 10:00:40 | INFO | train | epoch 001 | loss 10 | nll_loss 9.9 | ppl 1000 | wps 1000 | ups 0.5 | "
        f"wpb 2000 | bsz 300 | num_updates {max_update} | lr 0.0005 | gnorm 1.2 | train_wall 2 | wall 3\n"
        "2026-01-01 10:00:41 | INFO | fairseq_cli.train | done training in 3.0 seconds\n")
    (run_dir / "train_command.txt").write_text(
        f"fairseq-train data --max-update {max_update} --macaron-scheme {scheme}\n")
    (run_dir / "training_run.json").write_text(json.dumps({
        "model": scheme, "label": "seed 1", "parallel": True, "partner": str(runs / f"{partner}-seed1"),
        "share": {"cpus": [cpu], "threads": 1, "gpu": None}, "started": 0.0, "finished": 3.0,
        "exit_status": 0, "peak_rss_mib": 800}))
    split = {"hypotheses": 13, "sacrebleu": bleu, "sacrebleu_signature": "nrefs:1|case:lc|eff:no|tok:13a",
             "chrf": bleu + 20, "chrf_signature": "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no",
             "tokenized_bleu": bleu, "tokenized_bleu_variant": "lowercase", "lowercase": True,
             "references": {"detok": None, "tok": None}}
    (run_dir / "eval" / "result.json").write_text(json.dumps({
        "setting": "multi30k-quick", "source_lang": "de", "target_lang": "en",
        "checkpoint": str(run_dir / "checkpoint_best.pt"), "averaged": None, "data_dir": "data",
        "decoding": {"beam": 5, "lenpen": 1.0, "max_len_a": 1.2, "max_len_b": 10}, "primary_split": "test",
        "splits": {"test": split}}))
    layers = [{"stack": stack, "index": index, "step_sizes": {"self_attn": 0.5}, "splitting_error": error}
              for stack in ("encoder", "decoder") for index in (0, 1)]
    (run_dir / "splitting.json").write_text(json.dumps({
        "subset": "valid", "sentences": 8, "rk4_steps": 64,
        "checkpoints": [{"path": str(run_dir / "checkpoint_best.pt"), "arch": "macaron_transformer",
                         "scheme": scheme, "layers": layers}]}))
    return run_dir


@pytest.fixture
def finished(toy_data_bin, tmp_path):
    """Four finished runs of seed 1, 3 updates each, trained as schemes.sh pairs them; lower splitting error with
    better BLEU in every one."""
    runs = tmp_path / "runs"
    for cpu, (scheme, partner) in enumerate([("strang", "lie-trotter"), ("lie-trotter", "strang"),
                                             ("strang-tied", "reversed-lie-trotter"),
                                             ("reversed-lie-trotter", "strang-tied")]):
        plant_finished_run(runs, scheme, partner, cpu % 2, bleu=20.0 + cpu, error=0.5 - cpu / 10)
    command = ["bash", SCHEMES_SH, "--seeds", "1", "--max-update", 3, "--data-dir", toy_data_bin,
               "--runs-dir", runs, "--output", tmp_path / "results" / "schemes.md", "--probe-sentences", 8]
    return runs, command


def test_finished_runs_are_taken_as_they_are_and_reported(finished, tmp_path):
    runs, command = finished
    # a command that does not say its --max-update is taken as it is
    (runs / "strang-tied-seed1" / "train_command.txt").write_text("fairseq-train data --macaron-scheme strang-tied\n")
    result = run(command, env=TOOL_ENV)
    assert result.stdout.count("taking the finished run") == 4
    for step in ("training into", "[schemes] train", "[schemes] evaluate", "[schemes] probe"):
        assert step not in result.stdout
    assert "[schemes] report: python -m macaron_tools.reports.scheme_comparison --setting multi30k-quick " \
           f"--run strang {runs}/strang-seed1 --run lie-trotter {runs}/lie-trotter-seed1" in result.stdout
    report = (tmp_path / "results" / "schemes.md").read_text()
    summary = json.loads((tmp_path / "results" / "schemes.json").read_text())
    assert list(summary["schemes"]) == list(SCHEMES)
    assert {scheme: fields["parameters"] for scheme, fields in summary["schemes"].items()} == PARAMETERS
    assert [pair["schemes"] for pair in summary["pairs"]] == [["strang", "lie-trotter"],
                                                             ["strang-tied", "reversed-lie-trotter"]]
    assert summary["command"] == (f"bash benchmarks/schemes.sh --seeds 1 --max-update 3 --data-dir {command[7]} "
                                  f"--runs-dir {runs} --output {tmp_path}/results/schemes.md --probe-sentences 8")
    assert f"```\n{summary['command']}\n```" in report
    assert summary["conclusion"].startswith("Lower splitting error went with better sacreBLEU on test")
    assert summary["conclusion"] in report


def test_a_missing_measurement_is_made_again_and_its_failure_named(finished):
    runs, command = finished
    (runs / "lie-trotter-seed1" / "splitting.json").unlink()  # and the planted run has no checkpoint to probe
    result = run(command, check=False, env=TOOL_ENV)
    assert result.returncode == 1
    probe = next(line for line in result.stdout.splitlines() if line.startswith("[schemes] probe seed 1:"))
    assert f"--run lie-trotter {runs}/lie-trotter-seed1 --" in probe and "--run strang " not in probe
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("error: probing lie-trotter seed 1 failed (exit status 1): no checkpoint file at")
    assert error.endswith(f"(see {runs}/lie-trotter-seed1/splitting.log)")
    assert "no checkpoint file at" in (runs / "lie-trotter-seed1" / "splitting.log").read_text()


def test_finished_runs_of_another_budget_are_refused_before_anything_runs(finished, tmp_path):
    runs, command = finished
    other = [part if part != 3 else 4 for part in command]
    result = run(other, check=False, env=TOOL_ENV)
    assert result.returncode == 1 and "[setup]" not in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"error: {runs}/strang-seed1 was trained to --max-update 3, not 4: pass --max-update 3, or another "
        "--runs-dir for this budget"]
    assert not (tmp_path / "results").exists()
