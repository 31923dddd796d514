"""scripts/prepare-corpus.sh on a language pair the project has never seen, end to end from raw files: prepared,
trained for a few CPU updates, evaluated and used for translation with the recipes' scripts unchanged; and bad
input."""

import fcntl
import gzip
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess

import pytest

from conftest import REPO_ROOT, TINY_MODEL_FLAGS, run
from prepared_data import assert_split_sizes, read

SCRIPTS = REPO_ROOT / "scripts"
SIZES = {"train": 300, "valid": 12, "test": 13, "test1": 11}
ENV = {"OMP_NUM_THREADS": "1"}
# "xx" and "yy": a made-up pair. yy has a word of its own for every xx word and puts the words in reverse order.
LEXICON = {
    "ka": "mu", "lo": "ne", "pi": "tas", "ru": "vol", "se": "dri", "to": "gan", "vi": "pel", "zu": "hok",
    "Ma": "Orf", "Ne": "Ilt", "fa": "wub", "gi": "yor",
}


def sentence_pair(rng):
    words = [rng.choice(sorted(LEXICON)) for _ in range(rng.randint(2, 6))]
    return " ".join(words) + ".", " ".join(LEXICON[word] for word in reversed(words)) + "."


def write_raw(folder):
    """Raw text, plain for train and valid, gzip for the test sets; returns each split's prefix."""
    rng = random.Random(7)
    folder.mkdir(parents=True)
    prefixes = {}
    for split, size in SIZES.items():
        pairs = [sentence_pair(rng) for _ in range(size)]
        prefixes[split] = folder / f"corpus-{split}"
        for side, lang in enumerate(("xx", "yy")):
            text = "".join(pair[side] + "\n" for pair in pairs).encode("utf-8")
            path = prefixes[split].with_name(f"corpus-{split}.{lang}")
            if split.startswith("test"):
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(text))
            else:
                path.write_bytes(text)
    return prefixes


def prepare_corpus(prefixes, out, *extra, check=True, env=None):
    splits = [part for split, prefix in prefixes.items() for part in (f"--{split}", prefix)]
    return run(["bash", SCRIPTS / "prepare-corpus.sh", "--src", "xx", "--tgt", "yy", *splits, "--bpe-size", 60,
                "--lowercase", "--out", out, "--work-dir", out.parent / "work", *extra], env={**ENV, **(env or {})},
               check=check)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("xx-yy")
    prefixes = write_raw(root / "raw")
    result = prepare_corpus(prefixes, root / "data-bin" / "corpus.xx-yy")
    return root, prefixes, root / "data-bin" / "corpus.xx-yy", result


@pytest.fixture(scope="module")
def trained(prepared):
    """A tiny Macaron model of multi30k-quick's recipe, 3 updates on the xx-yy data."""
    root, _, data, _ = prepared
    run_dir = root / "run"
    run(["bash", SCRIPTS / "train.sh", "--setting", "multi30k-quick", "--model", "macaron", "--cpu", "--max-update", 3,
         "--max-tokens", 500, "--data-dir", data, "--save-dir", run_dir, "--", *TINY_MODEL_FLAGS,
         "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32, "--num-workers", 0, "--no-progress-bar"],
        env=ENV)
    return run_dir


def test_the_prepared_folder_holds_every_split_and_its_facts(prepared):
    _, prefixes, data, result = prepared
    assert_split_sizes(data, "xx-yy", SIZES)
    facts = json.loads((data / "corpus.json").read_text())
    assert (facts["src"], facts["tgt"], facts["name"]) == ("xx", "yy", "corpus.xx-yy")
    assert facts["moses"]["lowercase"] and not facts["moses"]["aggressive_dash_splits"]
    assert facts["tokenized_bleu"] == "lowercase"  # lowercased references are scored lowercased
    assert (facts["bpe_model"], facts["bpe_size"]) == ("spm.model", 60) and (data / "spm.model").is_file()
    assert list(facts["splits"]) == ["train", "valid", "test", "test1"]
    assert facts["splits"]["test"]["yy"] == {"detok": "refs/test.detok.yy", "tok": "refs/test.tok.yy"}
    # the references: the raw text as written, and its lowercased Moses tokens
    with gzip.open(f"{prefixes['test']}.yy.gz", "rt", encoding="utf-8") as f:
        raw = f.read().splitlines()
    assert read(data / "refs" / "test.detok.yy") == raw
    assert read(data / "refs" / "test.tok.yy")[0] == raw[0].lower().replace(".", " .")
    assert "wrote" in result.stdout and "corpus.json (xx->yy" in result.stdout
    # nothing else beside the result and in the work folder: no lock files left behind
    assert sorted(path.name for path in data.parent.iterdir()) == ["corpus.xx-yy", "work"]
    assert sorted(path.name for path in (data.parent / "work").iterdir()) == ["bpe", "tok"]


def test_a_second_run_reuses_the_result(prepared):
    _, prefixes, data, _ = prepared
    assert "up to date" in prepare_corpus(prefixes, data).stdout


def test_train_evaluate_and_translate_work_on_it_unchanged(prepared, trained):
    _, _, data, _ = prepared
    command = shlex.split((trained / "train_command.txt").read_text())
    assert command[command.index("--source-lang") + 1: command.index("--source-lang") + 4] == [
        "xx", "--target-lang", "yy"]

    # translate.sh runs while evaluate.sh does: each is a fairseq start-up of seconds, and neither writes what the
    # other reads
    translating = subprocess.Popen(
        ["bash", str(SCRIPTS / "translate.sh"), "--setting", "multi30k-quick", "--data-dir", str(data),
         "--checkpoint", str(trained / "checkpoint_best.pt"), "--cpu", "--fairseq-output"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV},
    )
    try:
        run(["bash", SCRIPTS / "evaluate.sh", "--setting", "multi30k-quick", "--checkpoint-dir", trained,
             "--data-dir", data, "--cpu"], env=ENV)
        stdout, stderr = translating.communicate("ka lo pi.\nMa zu.\n", timeout=300)
    finally:
        if translating.poll() is None:
            translating.kill()
            translating.wait()
    assert len((trained / "eval" / "test.hyp.detok").read_text().splitlines()) == SIZES["test"]
    assert len((trained / "eval" / "test1.hyp.detok").read_text().splitlines()) == SIZES["test1"]
    assert (trained / "eval" / "result.json").is_file()

    assert translating.returncode == 0, stderr[-3000:]
    # each line lowercased and Moses-tokenized as the data's text was, then translated
    sources = dict(re.findall(r"^S-(\d+)\t(.*)$", stdout, flags=re.MULTILINE))
    assert {n: "".join(pieces.split()).replace("▁", "") for n, pieces in sources.items()} == {"0": "kalopi.", "1": "mazu."}
    assert sources["0"].split()[-1] == "▁."  # the full stop a token of its own
    assert re.search(r"^D-0\t", stdout, re.MULTILINE) and re.search(r"^D-1\t", stdout, re.MULTILINE)


def test_a_model_of_another_direction_is_refused_before_anything_is_written(prepared, trained, tmp_path):
    _, _, data, _ = prepared
    reversed_data = tmp_path / "corpus.yy-xx"
    shutil.copytree(data, reversed_data)
    facts = json.loads((reversed_data / "corpus.json").read_text())
    facts["src"], facts["tgt"] = "yy", "xx"
    (reversed_data / "corpus.json").write_text(json.dumps(facts))
    shutil.rmtree(trained / "eval", ignore_errors=True)

    # both at once: each refuses after seconds of start-up (torch, to read the checkpoint)
    refusing = [
        subprocess.Popen([str(part) for part in ["bash", SCRIPTS / script, "--setting", "multi30k-quick", *checkpoint,
                                                 "--data-dir", reversed_data, "--cpu"]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV})
        for script, checkpoint in (("evaluate.sh", ["--checkpoint-dir", trained]),
                                   ("translate.sh", ["--checkpoint", trained / "checkpoint_best.pt"]))
    ]
    for process in refusing:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1 and stdout == ""
        assert stderr == (f"error: {trained / 'checkpoint_best.pt'} translates xx->yy but {reversed_data} "
                          f"is yy->xx data: pass the --data-dir the model was trained on, or a model of that "
                          f"direction\n")
    assert not (trained / "eval").exists()


def only_empty_lines(prefixes):
    for lang in ("xx", "yy"):
        prefixes["train"].with_name(f"corpus-train.{lang}").write_text("\n" * SIZES["train"])


@pytest.mark.parametrize("change, message", [
    (lambda prefixes: prefixes["valid"].with_name("corpus-valid.yy").unlink(),
     "--valid {valid}: there is no {valid}.xx and {valid}.yy"),
    (lambda prefixes: (prefixes["valid"].with_name("corpus-valid.yy").unlink(),
                       prefixes["valid"].with_name("corpus-valid.yy").mkdir()),
     "--valid {valid}: {valid}.yy is a folder, not a file: give the prefix of the two files of the split"),
    (lambda prefixes: prefixes["valid"].with_name("corpus-valid.yy").write_text("one line too few\n"),
     "corpus-valid.xx has 12 sentences but"),
    # named as the user gave them, not by the work folder's files
    (only_empty_lines, "no pair of {train}.xx and {train}.yy passes the filter"),
])
def test_bad_input_is_one_line_and_leaves_no_result(tmp_path, change, message):
    prefixes = write_raw(tmp_path / "raw")
    change(prefixes)
    result = prepare_corpus(prefixes, tmp_path / "data-bin" / "c.xx-yy", check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message.format(**prefixes) in errors[0], result.stderr
    # the Python step's own line is the last: the script adds no "stopped while" of its own
    assert result.stderr.splitlines()[-1] == errors[0] and "stopped while" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data-bin" / "c.xx-yy").exists()


def test_a_step_killed_by_a_signal_is_still_named_by_the_script(tmp_path):
    """A step that says nothing (killed, here by SIGKILL from a python that stands in for the project's) is the one
    failure the script reports itself."""
    prefixes = write_raw(tmp_path / "raw")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    real_python = REPO_ROOT / ".venv" / "bin" / "python"
    (venv / "bin" / "python").write_text(
        f'#!/bin/bash\n[[ "$*" == *" extract "* ]] && kill -9 $$\nexec {real_python} "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    result = prepare_corpus(prefixes, tmp_path / "data-bin" / "c.xx-yy", check=False, env={"VENV": str(venv)})
    assert result.returncode == 137, result.stderr
    assert result.stderr.splitlines()[-1].startswith("[prepare-corpus] stopped while: reading train valid test "
                                                     "test1 (exit status 137)")


def test_a_run_on_an_output_another_run_holds_is_refused_and_leaves_its_lock(prepared, tmp_path):
    _, prefixes, _, _ = prepared
    out = tmp_path / "data-bin" / "c.xx-yy"
    out.parent.mkdir()
    with open(out.parent / ".c.xx-yy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run preparing it holds it
        result = prepare_corpus(prefixes, out, check=False)
        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == (f"error: another run is preparing {out}: wait for it to finish, or "
                                                  f"pass another folder")
        assert (out.parent / ".c.xx-yy.lock").exists() and not out.exists()


PYTHON_STARTUP_INTERRUPTED = "Fatal Python error: init_import_site"
"""What Python prints when Ctrl-C lands while it is still importing its site module, before a step's own code runs:
a race between the signal and the interpreter's start-up, outside the script's reach."""


def interrupt_at(step, prefixes, out):
    """Runs prepare-corpus.sh and sends Ctrl-C to its process group when it prints STEP; returns (status, stderr)."""
    splits = [part for split, prefix in prefixes.items() for part in (f"--{split}", prefix)]
    process = subprocess.Popen(
        [str(part) for part in ["bash", SCRIPTS / "prepare-corpus.sh", "--src", "xx", "--tgt", "yy", *splits,
                                "--bpe-size", 60, "--lowercase", "--out", out, "--work-dir", out.parent / "work"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV},
        start_new_session=True,  # its own process group, which Ctrl-C at a terminal signals as a whole
        # as from a terminal: a shell started in the background without job control ignores SIGINT, and a bash
        # that starts with SIGINT ignored cannot trap it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in process.stdout:
        if step in line:
            os.killpg(process.pid, signal.SIGINT)
            break
    _, errors = process.communicate(timeout=120)
    return process.returncode, errors


@pytest.mark.parametrize("stages_done, step", [
    (["tok"], "learning joint sentencepiece BPE"),
    (["tok", "bpe"], "binarizing with fairseq-preprocess"),
])
def test_ctrl_c_says_so_and_leaves_nothing_behind(prepared, tmp_path, stages_done, step):
    _, prefixes, _, _ = prepared
    for attempt in range(3):
        out = tmp_path / f"attempt{attempt}" / "data-bin" / "c.xx-yy"
        for stage in stages_done:  # reused, so that the run comes to STEP at once
            shutil.copytree(prepared[2].parent / "work" / stage, out.parent / "work" / stage)
        status, errors = interrupt_at(step, prefixes, out)
        if PYTHON_STARTUP_INTERRUPTED not in errors:
            break  # the signal reached the step's code, as it does but in that race: the case under test
    assert status == 130
    assert errors.splitlines()[-1].startswith(f"[prepare-corpus] interrupted while: {step}")
    assert errors.splitlines()[-1].endswith(f"{out} was not changed and nothing was left behind; rerun the same "
                                            f"command to go on (finished stages are reused)")
    assert "Traceback" not in errors
    assert sorted(path.name for path in out.parent.iterdir()) == ["work"]
    assert sorted(path.name for path in (out.parent / "work").iterdir()) == sorted(stages_done)


def test_an_out_inside_a_file_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    result = run(["bash", SCRIPTS / "prepare-corpus.sh", "--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b",
                  "--test", "c", "--out", tmp_path / "a-file" / "c.xx-yy"], check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: --out {tmp_path / 'a-file' / 'c.xx-yy'} is inside {tmp_path / 'a-file'}, "
                             f"which is a file: give a folder\n")


@pytest.mark.parametrize("args, message", [
    (["--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o"], "--src and --tgt are required"),
    (["--src", "xx", "--tgt", "xx", "--train", "a", "--valid", "b", "--test", "c", "--out", "o"],
     "two different language codes"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--test", "c", "--out", "o"], "--valid is required"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--valid-every", "5", "--test", "c", "--out", "o"],
     "--valid and --valid-every exclude each other"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c"], "--out is required"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o", "--bpe-size", "x"],
     "--bpe-size must be a whole number"),
    # refused before any stage runs, not by the Python step that takes them
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o", "--bpe-size", "0"],
     "--bpe-size must be 1 or more"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o", "--min-tokens", "0"],
     "--min-tokens must be 1 or more"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o", "--min-tokens", "5",
      "--max-tokens", "2"], "--max-tokens 2 is below --min-tokens 5"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o",
      "--bpe-character-coverage", "abc"], "--bpe-character-coverage must be a number from 0.98 to 1, got 'abc'"),
    (["--src", "xx", "--tgt", "yy", "--train", "a", "--valid", "b", "--test", "c", "--out", "o",
      "--bpe-character-coverage", "0.5"], "--bpe-character-coverage must be a number from 0.98 to 1, got '0.5'"),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    result = run(["bash", SCRIPTS / "prepare-corpus.sh", *args], cwd=tmp_path, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr


def test_an_out_holding_a_users_files_is_refused_and_they_are_kept(prepared, tmp_path):
    _, prefixes, _, _ = prepared
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.txt").write_text("three years\n")
    result = prepare_corpus(prefixes, out, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: --out {out} holds files that a prepared result does not (thesis.txt), and replacing it would delete "
        f"them: give an empty or new folder, or move them out first")
    assert (out / "thesis.txt").read_text() == "three years\n"
    assert sorted(path.name for path in out.iterdir()) == ["thesis.txt"]
    assert not (tmp_path / "work").exists()  # refused before any work


@pytest.mark.parametrize("out_given", ["the raw folder", "."])
def test_an_out_holding_the_raw_corpus_is_refused_and_it_is_kept(tmp_path, out_given):
    prefixes = write_raw(tmp_path / "raw")
    before = {path.name: path.read_bytes() for path in (tmp_path / "raw").iterdir()}
    out = tmp_path / "raw" if out_given == "the raw folder" else "."
    splits = [part for split, prefix in prefixes.items() for part in (f"--{split}", prefix)]
    result = run(["bash", SCRIPTS / "prepare-corpus.sh", "--src", "xx", "--tgt", "yy", *splits, "--bpe-size", 60,
                  "--out", out, "--work-dir", tmp_path / "work"], cwd=tmp_path / "raw", env=ENV, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"error: --out {tmp_path / 'raw'} holds the input "
                                                     f"{prefixes['train']}.xx"), result.stderr
    assert "Traceback" not in result.stderr
    assert {path.name: path.read_bytes() for path in (tmp_path / "raw").iterdir()} == before


def test_an_earlier_result_is_still_replaced(prepared, tmp_path):
    _, prefixes, out, _ = prepared
    copy = tmp_path / "data-bin" / out.name
    shutil.copytree(out, copy)
    (copy / ".prepared").write_text("an older key\n")  # as if built from other inputs: rebuilt
    shutil.copytree(out.parent / "work", tmp_path / "data-bin" / "work")
    prepare_corpus(prefixes, copy)
    assert (copy / ".prepared").read_text() == (out / ".prepared").read_text()


def test_an_out_in_a_folder_that_cannot_be_written_is_one_line(prepared, tmp_path):
    _, prefixes, _, _ = prepared
    out = "/proc/c.xx-yy"  # /proc takes no new files, for any user
    splits = [part for split, prefix in prefixes.items() for part in (f"--{split}", prefix)]
    result = run(["bash", SCRIPTS / "prepare-corpus.sh", "--src", "xx", "--tgt", "yy", *splits, "--bpe-size", 60,
                  "--out", out, "--work-dir", tmp_path / "work"], env=ENV, check=False)
    assert result.returncode == 1
    assert result.stderr == ("error: cannot write in /proc, where /proc/c.xx-yy is prepared: give folders you can "
                             "write (--out, --work-dir)\n")


def test_a_full_disk_while_binarizing_is_one_line_and_leaves_nothing(prepared, tmp_path):
    """fairseq-preprocess failing as on a full disk (a python that stands in for the project's fails it so), after
    the work stages are done: one line naming the cause; no result and no half-written folder beside it."""
    _, prefixes, out, _ = prepared
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    real_python = REPO_ROOT / ".venv" / "bin" / "python"
    (venv / "bin" / "python").write_text(
        '#!/bin/bash\nif [[ "$*" == *"fairseq_cli.preprocess"* ]]; then\n'
        '  echo "Traceback (most recent call last):"; echo "OSError: [Errno 28] No space left on device"; exit 1\n'
        f'fi\nexec {real_python} "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    target = tmp_path / "data-bin" / out.name
    shutil.copytree(out.parent / "work", tmp_path / "data-bin" / "work")  # the stages, reused
    result = prepare_corpus(prefixes, target, check=False, env={"VENV": str(venv)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: fairseq-preprocess ran out of disk space writing in {target.parent} (OSError: [Errno 28] No space "
        f"left on device): free space there, or pass an --out on a disk with room")
    assert sorted(path.name for path in target.parent.iterdir()) == ["work"]
