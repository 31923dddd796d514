"""A data-bin damaged on disk: a dictionary line without its count, a dictionary that is not text, a repeated word,
a .bin or .idx file cut short. Each stops fairseq in one line naming the file, and saying to prepare the data again."""

import shutil

import pytest
from fairseq.data import Dictionary, data_utils

from conftest import PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command, run
from macaron_fairseq.data.data_bin_errors import DataBinError


@pytest.fixture
def data_bin(toy_data_bin, tmp_path):
    """A copy of the toy data-bin, for a test to damage."""
    return shutil.copytree(toy_data_bin, tmp_path / "data-bin")


def drop_the_count_of_line_5(path):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4].rsplit(" ", 1)[0] + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def test_dictionary_line_without_its_count(data_bin):
    path = data_bin / "dict.de.txt"
    drop_the_count_of_line_5(path)
    with pytest.raises(DataBinError, match=rf"^dictionary {path} line 5 is not '<word> <count>': '\w+': "
                                           r"prepare the data again"):
        Dictionary.load(str(path))


def test_dictionary_of_random_bytes(data_bin):
    path = data_bin / "dict.de.txt"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(DataBinError, match=rf"^dictionary {path} is not UTF-8 text \(line 1\): prepare the data"):
        Dictionary.load(str(path))


def test_dictionary_repeating_a_word(data_bin):
    path = data_bin / "dict.de.txt"
    first_word = path.read_text(encoding="utf-8").split(" ", 1)[0]
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{first_word} 1\n")
    with pytest.raises(DataBinError, match=rf"line \d+ repeats the word '{first_word}' of line 1"):
        Dictionary.load(str(path))


def truncate(path, size):
    path.write_bytes(path.read_bytes()[:size])


def test_truncated_data_file(data_bin):
    data_file = data_bin / "train.de-en.de.bin"
    truncate(data_file, 100)
    with pytest.raises(DataBinError, match=rf"^{data_file} is truncated: it holds 100 bytes, where its index "
                                           rf"{data_bin}/train.de-en.de.idx needs \d+: prepare the data again"):
        data_utils.load_indexed_dataset(str(data_bin / "train.de-en.de"), None)


@pytest.mark.parametrize("size", [0, 20, 100])
def test_truncated_index_file(data_bin, size):
    index_file = data_bin / "train.de-en.de.idx"
    truncate(index_file, size)
    with pytest.raises(DataBinError, match=rf"^{index_file} is (damaged or )?truncated"):
        data_utils.load_indexed_dataset(str(data_bin / "train.de-en.de"), None)


def test_an_intact_data_bin_loads(toy_data_bin):
    assert len(Dictionary.load(str(toy_data_bin / "dict.de.txt"))) == 112
    assert len(data_utils.load_indexed_dataset(str(toy_data_bin / "test.de-en.de"), None)) == 13


@pytest.mark.parametrize("damage", ["dictionary", "data file"])
def test_fairseq_train_prints_one_line(data_bin, tmp_path, damage):
    if damage == "dictionary":
        damaged = data_bin / "dict.en.txt"
        drop_the_count_of_line_5(damaged)
    else:
        damaged = data_bin / "train.de-en.en.bin"
        truncate(damaged, 50)
    result = run(fairseq_command(
        "train", data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--optimizer", "adam", "--lr", 1e-3, "--max-tokens", 500, "--max-update", 2, "--cpu", "--num-workers", 0,
        "--save-dir", tmp_path / "checkpoints",
    ), check=False, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {'dictionary ' * (damage == 'dictionary')}"
                                                             f"{damaged} "), result.stderr[-3000:]
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


def last_line_of_a_refusal(result):
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("tool", ["train", "eval-lm"])
def test_a_language_model_folder_without_dict_txt_is_one_line(tmp_path, tool):
    folder = tmp_path / "lm-bin"
    folder.mkdir()  # as if fairseq-preprocess had written somewhere else
    options = (["--arch", "macaron_transformer_lm_gpt2_tiny", "--optimizer", "adam", "--max-tokens", 64,
                "--save-dir", tmp_path / "save"] if tool == "train" else ["--path", tmp_path / "model.pt"])
    result = run(fairseq_command(tool, folder, "--task", "language_modeling", "--user-dir", PLUGIN_DIR, "--cpu",
                                 *options), check=False, env={"OMP_NUM_THREADS": "1"})
    assert last_line_of_a_refusal(result) == (
        f"error: dictionary {folder}/dict.txt does not exist: pass the folder that fairseq-preprocess --only-source "
        f"wrote (--task language_modeling reads it)")
    # fairseq-train makes its --save-dir before it reads the data; nothing is written into it
    assert not (tmp_path / "save").exists() or not any((tmp_path / "save").iterdir())


def test_a_missing_translation_dictionary_names_the_file(data_bin):
    (data_bin / "dict.en.txt").unlink()
    with pytest.raises(DataBinError, match=rf"^dictionary {data_bin}/dict.en.txt does not exist: pass the folder "
                                           r"that scripts/prepare-\*.sh or fairseq-preprocess wrote"):
        Dictionary.load(str(data_bin / "dict.en.txt"))


@pytest.mark.parametrize("folder, problem", [
    ("missing", "does not exist: pass the folder"),
    ("empty", "holds no binarized split (SPLIT.SRC-TGT.LANG.idx)"),
    ("a-file", "is a file: pass the folder"),
])
def test_a_translation_data_folder_that_is_none_is_one_line(tmp_path, folder, problem):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("text\n")
    result = run(fairseq_command(
        "train", tmp_path / folder, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", "--optimizer", "adam",
        "--max-tokens", 500, "--cpu", "--save-dir", tmp_path / "save",
    ), check=False, env={"OMP_NUM_THREADS": "1"})
    assert last_line_of_a_refusal(result).startswith(f"error: data folder {tmp_path / folder} {problem}")


def test_a_dictionary_of_millions_of_lines_is_refused_before_it_is_read(data_bin, monkeypatch):
    from macaron_fairseq.data import data_bin_errors

    monkeypatch.setattr(data_bin_errors, "MAX_DICTIONARY_ENTRIES", 50)  # the same check, on a file of test size
    path = data_bin / "dict.de.txt"
    path.write_text("".join(f"word{i} 1\n" for i in range(51)), encoding="utf-8")
    with pytest.raises(DataBinError, match=rf"^dictionary {path} has more than 50 entries, more than any vocabulary "
                                           r"a model is trained with: it is not a dictionary fairseq-preprocess "
                                           r"wrote; prepare the data again"):
        Dictionary.load(str(path))
    path.write_text("".join(f"word{i} 1\n" for i in range(50)), encoding="utf-8")
    assert len(Dictionary.load(str(path))) == 54  # fairseq's 4 symbols and the 50 words


def test_a_missing_index_of_the_valid_split_is_named(data_bin, tmp_path):
    (data_bin / "valid.de-en.de.idx").unlink()
    result = run(fairseq_command("train", data_bin, "--user-dir", PLUGIN_DIR, "--cpu", "--arch", "macaron_transformer",
                                 *TINY_MODEL_FLAGS, "--optimizer", "adam", "--max-tokens", 500, "--save-dir",
                                 tmp_path / "save"), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {data_bin}/valid.de-en.de.idx does not exist: the data folder has no valid split for de-en (it has: "
        f"test, train); prepare it again, or choose a split it has (--valid-subset, --gen-subset)")
