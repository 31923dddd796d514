"""scripts/train.sh: each setting's fairseq-train command against the authors' recipe, and a real short run."""

import argparse
import shlex
import subprocess
import sys

import pytest
import torch

from conftest import REPO_ROOT, run

TRAIN_SH = REPO_ROOT / "scripts" / "train.sh"

# The authors' recipe (docs/paper-on-gpus.md): arch pair, lr, warmup, tokens per update, dropout, weight decay.
RECIPE = {
    "iwslt14": dict(baseline="transformer_iwslt_de_en", macaron="macaron_transformer_iwslt_de_en", lr="1.5e-3",
                    warmup="8000", tokens_per_update=4096, dropout="0.3", weight_decay="1e-4", src="de", tgt="en"),
    "wmt14-base": dict(baseline="transformer_wmt_en_de", macaron="macaron_transformer_wmt_en_de", lr="1.5e-3",
                       warmup="8000", tokens_per_update=8192 * 4, dropout="0.1", weight_decay="0", src="en",
                       tgt="de"),
    "wmt14-big": dict(baseline="transformer_wmt_en_de_big", macaron="macaron_transformer_wmt_en_de_big",
                      lr="3e-3", warmup="8000", tokens_per_update=4096 * 16 * 4, dropout="0.3", weight_decay="0",
                      src="en", tgt="de"),
}


def settings():
    """The settings, as scripts/settings.sh defines them (the one list every script reads)."""
    return run(["bash", "-c", f'source "{REPO_ROOT}/scripts/settings.sh"; echo "${{SETTINGS[@]}}"']).stdout.split()


def dry_run(*args):
    result = run(["bash", TRAIN_SH, "--dry-run", *map(str, args)])
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return shlex.split(lines[0])


def flag(command, name):
    return command[command.index(name) + 1]


@pytest.mark.parametrize("setting", sorted(RECIPE))
@pytest.mark.parametrize("model", ["macaron", "baseline"])
def test_dry_run_follows_the_recipe(setting, model):
    recipe = RECIPE[setting]
    command = dry_run("--setting", setting, "--model", model, "--gpus", "0")
    assert command[0] == "fairseq-train"
    assert flag(command, "--arch") == recipe[model]
    assert flag(command, "--user-dir").endswith("macaron_fairseq")
    assert (flag(command, "--source-lang"), flag(command, "--target-lang")) == (recipe["src"], recipe["tgt"])
    assert flag(command, "--lr") == recipe["lr"]
    assert flag(command, "--warmup-updates") == recipe["warmup"]
    assert flag(command, "--warmup-init-lr") == "1e-07"
    assert flag(command, "--lr-scheduler") == "inverse_sqrt"
    assert flag(command, "--dropout") == recipe["dropout"]
    assert flag(command, "--attention-dropout") == flag(command, "--activation-dropout") == "0.1"
    assert flag(command, "--weight-decay") == recipe["weight_decay"]
    assert flag(command, "--optimizer") == "adam" and flag(command, "--adam-betas") == "(0.9, 0.98)"
    assert flag(command, "--criterion") == "label_smoothed_cross_entropy"
    assert flag(command, "--label-smoothing") == "0.1"
    assert flag(command, "--clip-norm") == "0.0"
    assert flag(command, "--seed") == "1"
    assert {"--encoder-normalize-before", "--decoder-normalize-before", "--share-all-embeddings", "--fp16"} <= set(command)
    assert flag(command, "--validate-interval-updates") == "0"  # the authors validate after each epoch
    # one GPU keeps the recipe's tokens per update through gradient accumulation
    assert int(flag(command, "--max-tokens")) * int(flag(command, "--update-freq")) == recipe["tokens_per_update"]


def test_the_recipes_above_are_settings_of_settings_sh():
    assert set(RECIPE) <= set(settings())


@pytest.mark.parametrize("setting", settings())
def test_every_setting_dry_runs_on_its_own_data_folder(setting):
    command = dry_run("--setting", setting, "--model", "macaron", "--cpu")
    data_name = run(["bash", "-c", f'source "{REPO_ROOT}/scripts/settings.sh"; load_setting {setting}; '
                     'echo "$DATA_NAME"']).stdout.strip()
    assert command[1] == str(REPO_ROOT / "data" / "data-bin" / data_name)
    # before the data is prepared, the direction is read from its folder's name, NAME.SRC-TGT
    assert f"{flag(command, '--source-lang')}-{flag(command, '--target-lang')}" == data_name.rsplit(".", 1)[1]


def test_a_recipe_trains_on_any_prepared_data_in_that_data_s_direction(toy_data_bin):
    # wmt14-base's usual data is en-de; the toy data is de-en, and its direction is the data's own
    command = dry_run("--setting", "wmt14-base", "--model", "macaron", "--gpus", "0", "--data-dir", toy_data_bin)
    assert command[1] == str(toy_data_bin)
    assert (flag(command, "--source-lang"), flag(command, "--target-lang")) == ("de", "en")
    assert flag(command, "--arch") == RECIPE["wmt14-base"]["macaron"]


def test_the_quick_setting_validates_every_hundred_updates():
    command = dry_run("--setting", "multi30k-quick", "--model", "macaron", "--cpu")
    assert flag(command, "--validate-interval-updates") == "100"
    assert (flag(command, "--encoder-ffn-embed-dim"), flag(command, "--encoder-embed-dim")) == ("256", "128")


def test_effective_batch_is_kept_on_eight_gpus_and_post_norm_is_selectable():
    command = dry_run("--setting", "wmt14-big", "--model", "macaron", "--gpus", "0,1,2,3,4,5,6,7", "--post-norm",
                      "--precision", "bf16")
    assert int(flag(command, "--max-tokens")) * int(flag(command, "--update-freq")) * 8 == 4096 * 16 * 4
    assert "--encoder-normalize-before" not in command and "--decoder-normalize-before" not in command
    assert "--bf16" in command and "--fp16" not in command
    assert "postnorm" in flag(command, "--save-dir")


def test_multi_node_runs_through_torchrun_and_extra_flags_pass_through():
    command = dry_run("--setting", "iwslt14", "--model", "baseline", "--gpus", "0,1", "--nnodes", "2",
                      "--node-rank", "1", "--master-addr", "10.0.0.1", "--", "--keep-best-checkpoints", "3")
    assert command[0] == "torchrun"
    assert (flag(command, "--nnodes"), flag(command, "--node-rank"), flag(command, "--nproc-per-node")) == ("2", "1", "2")
    assert int(flag(command, "--max-tokens")) * int(flag(command, "--update-freq")) * 4 >= 4096
    assert command[-2:] == ["--keep-best-checkpoints", "3"]


BAD_ARGUMENTS = [
    (["--setting", "nope", "--model", "macaron"], "unknown setting 'nope'"),
    (["--setting", "iwslt14", "--model", "big"], "unknown model 'big'"),
    (["--setting", "iwslt14"], "--model is required"),
    (["--setting", "iwslt14", "--model", "macaron", "--bogus"], "unknown option '--bogus'"),
    (["--setting", "iwslt14", "--model", "macaron", "--seed", "x"], "--seed must be a whole number"),
    (["--model", "macaron", "--setting"], "--setting needs a value (see train.sh --help)"),
]


def test_help_prints_the_options():
    assert "--dry-run" in run(["bash", TRAIN_SH, "--help"]).stdout


@pytest.mark.parametrize("args, message", BAD_ARGUMENTS)
def test_bad_arguments_get_one_line_errors(args, message):
    result = run(["bash", TRAIN_SH, *args, "--dry-run"], check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {result.stderr.strip()[7:]}"]
    assert message in result.stderr


def test_missing_or_wrong_data_directory_is_refused(tmp_path, toy_data_bin):
    def train(data_dir):
        result = run(["bash", TRAIN_SH, "--setting", "multi30k", "--model", "macaron", "--cpu",
                      "--data-dir", data_dir], check=False)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result.stderr

    assert "does not exist" in train(tmp_path / "absent")
    (tmp_path / "a-file").write_text("not data\n")
    assert f"{tmp_path / 'a-file'} is a file" in train(tmp_path / "a-file")
    (tmp_path / "empty").mkdir()
    assert "no corpus.json and no fairseq-preprocess files" in train(tmp_path / "empty")
    # binarized de-en data without a train split
    (tmp_path / "no-train").mkdir()
    for path in toy_data_bin.iterdir():
        if not path.name.startswith("train."):
            (tmp_path / "no-train" / path.name).symlink_to(path)
    assert "has no train.de-en.de.idx: it is not binarized de-en data" in train(tmp_path / "no-train")


def test_short_cpu_run_trains_and_logs(tmp_path, toy_data_bin):
    save_dir = tmp_path / "run"
    result = run(["bash", TRAIN_SH, "--setting", "multi30k", "--model", "macaron", "--cpu", "--max-update", 3,
                  "--max-tokens", 600, "--data-dir", toy_data_bin, "--save-dir", save_dir])
    assert "done training" in result.stdout + result.stderr
    assert (save_dir / "checkpoint_last.pt").exists() and (save_dir / "checkpoint_best.pt").exists()
    log = (save_dir / "train.log").read_text()
    assert "num_updates 3" in log and "macaron_transformer" in log
    assert any((save_dir / "tensorboard").rglob("events.out.tfevents.*"))
    recorded = shlex.split((save_dir / "train_command.txt").read_text())
    assert recorded[0] == "fairseq-train"
    # paths inside the repository are recorded from its root; the others (here: the test's folders) as they are
    assert flag(recorded, "--user-dir") == "macaron_fairseq" and flag(recorded, "--save-dir") == str(save_dir)


def test_a_save_dir_inside_a_file_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    result = run(["bash", TRAIN_SH, "--setting", "multi30k", "--model", "macaron", "--cpu", "--dry-run",
                  "--save-dir", tmp_path / "a-file" / "run"], check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: --save-dir {tmp_path / 'a-file' / 'run'} is inside {tmp_path / 'a-file'}, which "
                             f"is a file: give a folder\n")


def test_a_save_dir_of_another_architecture_is_refused_before_anything_is_written(tmp_path, toy_data_bin):
    baseline_run = tmp_path / "baseline-seed1"
    baseline_run.mkdir()
    # what the check reads of a baseline run's checkpoint: the architecture in its configuration
    torch.save({"args": None, "cfg": {"model": argparse.Namespace(arch="transformer")}, "model": {}},
               baseline_run / "checkpoint_last.pt")
    (baseline_run / "train_command.txt").write_text("fairseq-train ... --arch transformer\n")
    before = {path.name: path.read_bytes() for path in baseline_run.iterdir()}
    result = run(["bash", TRAIN_SH, "--setting", "multi30k", "--model", "macaron", "--cpu",
                  "--data-dir", toy_data_bin, "--save-dir", baseline_run], check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: --save-dir {baseline_run} holds a transformer run, not a macaron_transformer "
                             f"one: train into another --save-dir, or resume it with its own --model\n")
    assert {path.name: path.read_bytes() for path in baseline_run.iterdir()} == before


def short_run(toy_data_bin, save_dir):
    return ["bash", TRAIN_SH, "--setting", "multi30k", "--model", "macaron", "--cpu", "--max-update", 2,
            "--max-tokens", 600, "--data-dir", toy_data_bin, "--save-dir", save_dir]


def test_a_second_run_into_the_same_save_dir_is_refused_while_the_first_runs(tmp_path, toy_data_bin):
    import fcntl

    save_dir = tmp_path / "run"
    save_dir.mkdir()
    with open(save_dir / ".train.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first run's fairseq-train holds it
        result = run(short_run(toy_data_bin, save_dir), check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (f"error: another run is training into --save-dir {save_dir}: wait for it "
                                              f"to end, or pass another --save-dir")
    assert sorted(path.name for path in save_dir.iterdir()) == [".train.lock"]  # nothing written


def test_a_killed_run_leaves_no_lock_behind(tmp_path, toy_data_bin):
    save_dir = tmp_path / "run"
    save_dir.mkdir()
    holds_the_lock = ("import fcntl, sys, time\nlock = open(sys.argv[1], 'a')\nfcntl.flock(lock, fcntl.LOCK_EX)\n"
                      "print('held', flush=True)\ntime.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", holds_the_lock, str(save_dir / ".train.lock")],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    holder.kill()  # as a run killed at any point
    holder.wait()
    result = run(short_run(toy_data_bin, save_dir))
    assert "done training" in result.stdout + result.stderr
