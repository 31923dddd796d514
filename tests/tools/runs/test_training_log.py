"""Parsing fairseq-train's log: parameters, architecture, time, throughput, validation curve."""

import pytest

from conftest import TRAINING_LOG as LOG
from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.runs import training_log
from macaron_tools.runs.training_log import parse_training_log


def test_parse_training_log():
    log = parse_training_log(LOG)
    assert log.architecture == "macaron_transformer"
    assert log.parameters == 5_553_152
    assert log.updates == 180
    assert log.target_tokens == 4000 * 100 + 3000 * 80
    assert log.train_seconds == 350
    assert log.tokens_per_second == (4000 * 100 + 3000 * 80) / 350
    assert log.valid_loss == [(100, 9.5), (180, 7.25)]


def test_a_resumed_run_counts_each_epoch_once():
    # a run killed after epoch 2 and resumed from its epoch-1 checkpoint logs epoch 2 again
    resumed = LOG + "\n".join(LOG.splitlines()[4:6]).replace("train_wall 150", "train_wall 160") + "\n"
    log = parse_training_log(resumed)
    assert log.updates == 180
    assert log.train_seconds == 360
    assert log.valid_loss == [(100, 9.5), (180, 7.25)]


def test_why_training_stopped_the_seed_and_validation_bleu():
    log = parse_training_log(LOG)
    assert log.stopped == "max-update" and log.seed == 1 and log.valid_bleu == []

    with_bleu = LOG.replace("| loss 7.25 |", "| loss 7.25 | bleu 12.5 |")
    early = with_bleu.replace(
        "done training", "early stop since valid performance hasn't improved for last 5 runs\n"
        "2026-01-01 10:04:01 | INFO | fairseq_cli.train | done training")
    log = parse_training_log(early)
    assert log.stopped == "patience" and log.valid_bleu == [(180, 12.5)]
    unfinished = "\n".join(line for line in LOG.splitlines() if "done training" not in line)
    assert parse_training_log(unfinished).stopped is None


def test_the_patience_it_trained_with():
    assert parse_training_log(LOG).patience is None  # not in its configuration line
    assert parse_training_log(LOG.replace("seed=1)", "seed=1, patience=5)")).patience == 5
    assert parse_training_log("| INFO | fairseq_cli.train | {'_name': None, 'patience': -1, 'seed': 2}").patience == -1


def test_an_empty_log_has_no_throughput():
    log = parse_training_log("")
    assert log.parameters is None and log.updates == 0 and log.tokens_per_second is None


def test_validations_within_an_epoch_each_give_a_point():
    # --validate-interval-updates 50: two validations in epoch 1, the second at its end
    mid_epoch = LOG.splitlines()[2].replace("loss 9.5 |", "loss 9.9 |").replace("num_updates 100", "num_updates 50")
    log = parse_training_log(mid_epoch + "\n" + LOG)
    assert log.valid_loss == [(50, 9.9), (100, 9.5), (180, 7.25)]


def test_command_line_projects_the_time_of_a_longer_run(tmp_path, capsys):
    log_file = tmp_path / "train.log"
    log_file.write_text(LOG)
    assert training_log.main([str(log_file), "--max-update", "36000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("macaron_transformer, 5,553,152 parameters: 180 updates in 350 s of training steps, "
                      "1,829 target tokens/s, 3,556 target tokens per update")
    # 350 s per 180 updates, so 36,000 updates take 70,000 s
    assert out[1].startswith("36,000 updates at this pace: 19.4 hours of training steps")


def test_command_line_refuses_a_log_without_an_epoch_summary(tmp_path):
    empty = tmp_path / "train.log"
    empty.write_text(LOG.splitlines()[0] + "\n")
    with pytest.raises(MacaronFairseqError, match="no finished epoch summary"):
        training_log.main([str(empty)])
    with pytest.raises(MacaronFairseqError, match="cannot read .*absent.log"):
        training_log.main([str(tmp_path / "absent.log")])


def test_command_line_says_when_a_file_is_not_a_training_log(tmp_path):
    noise = tmp_path / "random.bin"
    noise.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(MacaronFairseqError, match="random.bin is not a fairseq-train log"):
        training_log.main([str(noise)])
