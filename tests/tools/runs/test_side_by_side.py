"""side_by_side: two training commands at the same time, each on its own cores; one failing stops both; a restart
resumes both. The commands here are small Python programs standing in for scripts/train.sh."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.runs import side_by_side

# A stand-in for train.sh: appends to RUN_DIR/train.log like fairseq-train, keeps its progress in RUN_DIR/progress
# (its "checkpoint_last.pt"), prints a validation summary per step, and exits when it has done STEPS steps.
# RUN_DIR/fail_at_step makes it fail at that step once; with a partner given, it waits for the partner to start.
FAKE_TRAINING = r"""
import json, os, sys, time
run_dir, steps, partner = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(run_dir, exist_ok=True)
progress_file = os.path.join(run_dir, "progress")
done = int(open(progress_file).read()) if os.path.exists(progress_file) else 0
with open(os.path.join(run_dir, "started"), "a") as f:
    f.write(f"{done}\n")
with open(os.path.join(run_dir, "share.json"), "w") as f:
    json.dump({"cpus": sorted(os.sched_getaffinity(0)), "threads": os.environ.get("OMP_NUM_THREADS")}, f)
if partner != "-":
    for _ in range(600):
        if os.path.exists(os.path.join(partner, "started")):
            break
        time.sleep(0.05)
    else:
        sys.exit(f"{partner} never started while {run_dir} ran")
log = open(os.path.join(run_dir, "train.log"), "a")
fail_file = os.path.join(run_dir, "fail_at_step")
for step in range(done + 1, steps + 1):
    if os.path.exists(fail_file) and int(open(fail_file).read()) == step:
        os.remove(fail_file)
        print("error: simulated failure", flush=True)
        sys.exit(3)
    line = f"| INFO | valid | epoch 001 | valid on 'valid' subset | loss {10 - step} | num_updates {step}"
    print(line, flush=True)
    log.write(line + "\n")
    # saved as fairseq saves a checkpoint, whole or not at all: a run stopped mid-write resumes from the last one
    open(progress_file + ".tmp", "w").write(str(step))
    os.replace(progress_file + ".tmp", progress_file)
log.write("done training in 1.0 seconds\n")
"""


def fake_training_command(script, steps, partner_of=None):
    partner = "{partner}" if partner_of else "-"
    return [sys.executable, str(script), "{run_dir}", str(steps), partner]


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "fake_training.py"
    path.write_text(FAKE_TRAINING)
    return path


def pair(tmp_path, shares=None):
    shares = shares or side_by_side.cpu_shares(2)
    return [side_by_side.WatchedRun("baseline", str(tmp_path / "baseline-seed1"), shares[0]),
            side_by_side.WatchedRun("macaron", str(tmp_path / "macaron-seed1"), shares[1])]


def command_waiting_for_the_other(script, tmp_path, steps):
    """The fake command; each run waits until the other has started, so it fails if they run one after the other."""
    # {model} is replaced per run; the partner is the other model's directory
    return ["bash", "-c",
            f'if [ {{model}} = baseline ]; then other=macaron; else other=baseline; fi; '
            f'exec {sys.executable} {script} {{run_dir}} {steps} {tmp_path}/"$other"-seed1']


needs_two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPU cores")


@needs_two_cores
def test_both_runs_train_at_the_same_time_on_disjoint_equal_cores(script, tmp_path, capsys):
    runs = side_by_side.run_side_by_side(pair(tmp_path), command_waiting_for_the_other(script, tmp_path, 3),
                                         label="seed 1")
    assert [run.status for run in runs] == [0, 0]
    shares = [json.loads((tmp_path / f"{m}-seed1" / "share.json").read_text()) for m in ("baseline", "macaron")]
    assert not set(shares[0]["cpus"]) & set(shares[1]["cpus"])
    assert len(shares[0]["cpus"]) == len(shares[1]["cpus"]) == int(shares[0]["threads"]) == int(shares[1]["threads"])
    progress = capsys.readouterr().out.splitlines()
    assert "[compare] baseline seed 1: valid epoch 001 | valid on 'valid' subset | loss 9 | num_updates 1" in progress
    assert sum(line.startswith("[compare] macaron seed 1: valid epoch") for line in progress) == 3
    for model in ("baseline", "macaron"):
        record = json.loads((tmp_path / f"{model}-seed1" / side_by_side.RECORD_NAME).read_text())
        assert record["parallel"] and record["exit_status"] == 0 and record["model"] == model
        assert record["started"] <= record["finished"]
        assert "CPU cores" in record["hardware"]  # each run names its machine: a benchmark may run in pieces
    records = [json.loads((tmp_path / f"{m}-seed1" / side_by_side.RECORD_NAME).read_text())
               for m in ("baseline", "macaron")]
    # each started before the other finished: their training overlapped
    assert records[0]["started"] < records[1]["finished"] and records[1]["started"] < records[0]["finished"]


@needs_two_cores
def test_a_failing_run_stops_the_other_and_a_restart_resumes_both(script, tmp_path):
    (tmp_path / "macaron-seed1").mkdir()
    (tmp_path / "macaron-seed1" / "fail_at_step").write_text("2")
    command = command_waiting_for_the_other(script, tmp_path, 400)
    with pytest.raises(MacaronFairseqError) as failure:
        side_by_side.run_side_by_side(pair(tmp_path), command, label="seed 1")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"training macaron seed 1 failed (exit status 3): simulated failure "
                              f"(see {tmp_path}/macaron-seed1/train.log)")
    assert "stopped baseline seed 1 too" in message
    baseline_record = json.loads((tmp_path / "baseline-seed1" / side_by_side.RECORD_NAME).read_text())
    assert baseline_record["exit_status"] != 0  # stopped, not finished
    progress = tmp_path / "baseline-seed1" / "progress"
    stopped_at = int(progress.read_text()) if progress.exists() else 0
    assert stopped_at < 400

    runs = side_by_side.run_side_by_side(pair(tmp_path), command, label="seed 1")
    assert [run.status for run in runs] == [0, 0]
    for model, resumed_from in (("baseline", stopped_at), ("macaron", 1)):
        run_dir = tmp_path / f"{model}-seed1"
        assert (run_dir / "started").read_text().split() == ["0", str(resumed_from)]
        assert (run_dir / "progress").read_text() == "400"


def test_a_run_that_fails_before_writing_its_log_is_named_with_its_error(tmp_path):
    runs = [side_by_side.WatchedRun("baseline", str(tmp_path / "b"), side_by_side.Share())]
    with pytest.raises(MacaronFairseqError) as failure:
        side_by_side.run_side_by_side(runs, ["bash", "-c", "echo 'error: no data in DIR'; exit 2"])
    assert str(failure.value) == "training baseline failed (exit status 2): no data in DIR (it wrote no log)"


@needs_two_cores
def test_peak_memory_is_each_runs_own(tmp_path):
    # the baseline's grandchild (through a shell, as train.sh runs fairseq-train) touches 150 MiB. Run from a
    # process of its own: a child forked from this test process would count the test process's memory too.
    big = f"{sys.executable} -c 'b = bytearray(150 * 2**20); b[::4096] = b\"x\" * len(b[::4096])'"
    subprocess.run(
        [sys.executable, "-m", "macaron_tools.runs.side_by_side", "--cpu",
         "--run", "baseline", tmp_path / "baseline-seed1", "--run", "macaron", tmp_path / "macaron-seed1", "--",
         "bash", "-c", f'if [ {{model}} = baseline ]; then {big}; else {sys.executable} -c pass; fi'],
        check=True, cwd=REPO_ROOT,
    )
    peaks = {m: json.loads((tmp_path / f"{m}-seed1" / side_by_side.RECORD_NAME).read_text())["peak_rss_mib"]
             for m in ("baseline", "macaron")}
    assert peaks["baseline"] >= 150 > peaks["macaron"]


def test_cpu_shares_split_the_cores_equally_and_refuse_too_few():
    assert [s.cpus for s in side_by_side.cpu_shares(2, cpus={0, 1, 2, 3, 4})] == [[0, 1], [2, 3]]
    assert [s.threads for s in side_by_side.cpu_shares(2, cpus={0, 1, 2, 3, 4})] == [2, 2]
    with pytest.raises(MacaronFairseqError, match="need 2 CPU cores"):
        side_by_side.cpu_shares(2, cpus={0})
    assert [s.gpu for s in side_by_side.gpu_shares(2, ["0", "1"])] == ["0", "1"]
    assert [s.gpu for s in side_by_side.gpu_shares(2, ["0"])] == ["0", "0"]


# A stand-in for evaluate.sh: prints its steps and a line it keeps to itself, writes its result, no log of its own.
FAKE_EVALUATION = r"""
import os, sys
run_dir = sys.argv[1]
print("==> decode test", flush=True)
print("fairseq-generate detail", flush=True)
os.makedirs(os.path.join(run_dir, "eval"), exist_ok=True)
open(os.path.join(run_dir, "eval", "result.json"), "w").write("{}")
if os.path.exists(os.path.join(run_dir, "fail")):
    print("error: simulated scoring failure", flush=True)
    sys.exit(1)
"""


@needs_two_cores
def test_evaluation_stage_writes_each_runs_evaluate_log_and_its_own_record(tmp_path, capsys):
    script = tmp_path / "fake_evaluation.py"
    script.write_text(FAKE_EVALUATION)

    def evaluation_runs():
        return [side_by_side.WatchedRun(run.model, run.run_dir, run.share, side_by_side.STAGES["evaluation"])
                for run in pair(tmp_path)]
    side_by_side.run_side_by_side(evaluation_runs(), [sys.executable, str(script), "{run_dir}"], label="seed 1")
    assert "[compare] macaron seed 1: decode test" in capsys.readouterr().out.splitlines()
    for model in ("baseline", "macaron"):
        run_dir = tmp_path / f"{model}-seed1"
        assert (run_dir / "evaluate.log").read_text() == "==> decode test\nfairseq-generate detail\n"
        record = json.loads((run_dir / side_by_side.EVALUATION_RECORD_NAME).read_text())
        assert record["parallel"] and record["exit_status"] == 0
        assert not (run_dir / side_by_side.RECORD_NAME).exists()  # the training record is not overwritten

    (tmp_path / "macaron-seed1" / "fail").write_text("")
    with pytest.raises(MacaronFairseqError, match=r"^evaluating macaron seed 1 failed \(exit status 1\): "
                                                  r"simulated scoring failure \(see .*macaron-seed1/evaluate.log\)"):
        side_by_side.run_side_by_side(evaluation_runs(), [sys.executable, str(script), "{run_dir}"], label="seed 1")


@needs_two_cores
def test_probe_stage_keeps_its_output_in_each_runs_splitting_log(tmp_path, capsys):
    script = tmp_path / "fake_probe.py"
    script.write_text(FAKE_EVALUATION)
    runs = [side_by_side.WatchedRun(run.model, run.run_dir, run.share, side_by_side.STAGES["probe"])
            for run in pair(tmp_path)]
    side_by_side.run_side_by_side(runs, [sys.executable, str(script), "{run_dir}"], label="seed 1")
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("[compare] macaron")]
    for model in ("baseline", "macaron"):
        run_dir = tmp_path / f"{model}-seed1"
        assert (run_dir / "splitting.log").read_text() == "==> decode test\nfairseq-generate detail\n"
        assert json.loads((run_dir / "probe_run.json").read_text())["parallel"]


def test_a_run_folder_it_cannot_write_or_a_command_it_cannot_run_is_refused_before_any_run_starts(tmp_path):
    (tmp_path / "a-file").write_text("text\n")
    with pytest.raises(MacaronFairseqError, match=rf"^--run baseline {tmp_path}/a-file is a file: give a folder"):
        side_by_side.main(["--cpu", "--run", "macaron", str(tmp_path / "macaron"), "--run", "baseline",
                           str(tmp_path / "a-file"), "--", sys.executable, "-c", "pass"])
    with pytest.raises(MacaronFairseqError, match=r"^cannot run no-such-program: it is no program on the PATH"):
        side_by_side.main(["--cpu", "--run", "macaron", str(tmp_path / "macaron"), "--run", "baseline",
                           str(tmp_path / "baseline"), "--", "no-such-program", "{run_dir}"])
    assert sorted(os.listdir(tmp_path)) == ["a-file"]  # no run started, no record written
