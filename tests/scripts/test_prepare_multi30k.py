"""scripts/prepare-multi30k.sh: end to end on the real Multi30k (when the shared copy is at hand), on the synthetic
corpus of macaron_tools.data.toy_corpus, and on bad input."""

import gzip
import re
import shutil

import pytest
from fairseq.data import Dictionary, data_utils

from conftest import REPO_ROOT, run
from prepared_data import read
from macaron_tools.data import toy_corpus

SCRIPT = REPO_ROOT / "scripts" / "prepare-multi30k.sh"
# CI puts the shared data folder beside the repository.
SHARED_MULTI30K = (REPO_ROOT / ".." / "shared" / "data" / "multi30k").resolve()
REAL_SIZES = {"train": 29000, "valid": 1014, "test": 1000, "test1": 1000}
TOY_SIZES = {"train": 300, "valid": 21, "test": 13, "test1": 10}
RAW_STEM = toy_corpus.SPLITS  # split -> Multi30k's raw file stem
EVALUATION_SPLITS = ("valid", "test", "test1")


def prepare(root, *args, env=None, check=True):
    folders = ["--out", root / "data-bin" / "multi30k.de-en", "--work-dir", root / "work"]
    return run(["bash", SCRIPT, *map(str, args), *folders], env={"MULTI30K_RAW_DIR": "", **(env or {})}, check=check)


def raw_lines(raw_dir, split, lang):
    with gzip.open(raw_dir / f"{RAW_STEM[split]}.{lang}.gz", "rt", encoding="utf-8", newline="\n") as f:
        return [line.rstrip() for line in f.read().split("\n")[:-1]]


def binarized(out, split, lang):
    """The sentences of a binarized split, read back as text the way fairseq-generate --post-process
    sentencepiece prints them."""
    dictionary = Dictionary.load(str(out / f"dict.{lang}.txt"))
    data = data_utils.load_indexed_dataset(str(out / f"{split}.de-en.{lang}"), dictionary)
    return [dictionary.string(data[i], bpe_symbol="sentencepiece") for i in range(len(data))]


def check_sizes_and_references(out, raw_dir, sizes):
    for split, size in sizes.items():
        for lang in ("de", "en"):
            assert len(binarized(out, split, lang)) == size
            if split in EVALUATION_SPLITS:
                assert read(out / "refs" / f"{split}.detok.{lang}") == raw_lines(raw_dir, split, lang)
                assert len(read(out / "refs" / f"{split}.tok.{lang}")) == size


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory):
    """The real corpus, prepared once for this module."""
    if not SHARED_MULTI30K.is_dir():
        pytest.skip(f"the shared Multi30k copy is not at {SHARED_MULTI30K}")
    root = tmp_path_factory.mktemp("multi30k")
    result = prepare(root, "--raw-dir", SHARED_MULTI30K)
    return root, root / "data-bin" / "multi30k.de-en", result


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy-multi30k")
    toy_corpus.write_corpus(root / "raw", TOY_SIZES, seed=2)
    result = prepare(root, "--raw-dir", root / "raw")
    return root, root / "data-bin" / "multi30k.de-en", result


def test_real_corpus_keeps_every_sentence(real_corpus):
    _, out, result = real_corpus
    check_sizes_and_references(out, SHARED_MULTI30K, REAL_SIZES)
    # The closing summary gives every split's sentence count on both sides.
    for split, size in REAL_SIZES.items():
        assert re.search(rf"^\s+{split}\s+{size}\s+{size}\s", result.stdout, re.MULTILINE), result.stdout


def test_real_corpus_is_cased_moses_tokenized_with_8000_pieces(real_corpus):
    _, out, _ = real_corpus
    assert read(out / "refs" / "test.tok.de")[0] == "Ein Mann mit einem orangefarbenen Hut , der etwas anstarrt ."
    assert read(out / "refs" / "test.detok.de")[0] == "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt."
    assert len(read(out / "spm.vocab")) == 8000
    assert (out / "dict.de.txt").read_text() == (out / "dict.en.txt").read_text()


def test_real_binarized_test_sets_read_back_as_tokenized_references(real_corpus):
    _, out, _ = real_corpus
    for split in EVALUATION_SPLITS:
        for lang in ("de", "en"):
            references = read(out / "refs" / f"{split}.tok.{lang}")
            decoded = binarized(out, split, lang)
            # Pieces never seen in training read back as <unk>; everything else must match exactly.
            differing = [(d, r) for d, r in zip(decoded, references) if d != r]
            assert all("<unk>" in d for d, _ in differing), differing[:3]
            assert len(differing) < 0.02 * len(references)


def test_second_run_reuses_the_result(real_corpus):
    root, out, _ = real_corpus
    stamp = (out / "train.de-en.de.bin").stat().st_mtime_ns
    result = prepare(root, "--raw-dir", SHARED_MULTI30K)
    assert "up to date" in result.stdout and "29000" in result.stdout
    assert (out / "train.de-en.de.bin").stat().st_mtime_ns == stamp


def test_synthetic_corpus_in_multi30k_layout(toy):
    root, out, result = toy
    check_sizes_and_references(out, root / "raw", TOY_SIZES)
    for split in EVALUATION_SPLITS:
        assert binarized(out, split, "en") == read(out / "refs" / f"{split}.tok.en")
    assert "(asked for 8,000" in result.stderr  # a small corpus gets the pieces it has
    assert not list((root / "data-bin").glob(".*partial*"))
    assert sorted(path.name for path in (root / "work").iterdir()) == ["bpe", "tok"]  # no lock file left


def test_lost_result_is_rebuilt_from_the_finished_stages(toy):
    root, out, _ = toy
    references = read(out / "refs" / "test.tok.en")
    shutil.rmtree(out)
    result = prepare(root, "--raw-dir", root / "raw")
    assert result.stdout.count("reusing") == 2  # tokenized text and sentencepiece stages
    assert "tokenizing" not in result.stdout
    assert read(out / "refs" / "test.tok.en") == references
    assert len(binarized(out, "test", "en")) == TOY_SIZES["test"]


def error_line(result):
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr
    return line


def write_toy(folder, sizes=None):
    toy_corpus.write_corpus(folder, sizes or {"train": 30, "valid": 5, "test": 5, "test1": 5}, seed=3)
    return folder


def test_raw_dir_without_the_files_names_them(tmp_path):
    raw = write_toy(tmp_path / "raw")
    (raw / "test_2017_flickr.en.gz").unlink()
    result = prepare(tmp_path, "--raw-dir", raw, check=False)
    assert result.returncode == 1
    assert "lacks test_2017_flickr.en.gz" in error_line(result)


def test_raw_dir_from_the_environment(tmp_path):
    result = prepare(tmp_path, env={"MULTI30K_RAW_DIR": str(tmp_path / "absent")}, check=False)
    assert result.returncode == 1
    assert f"--raw-dir {tmp_path / 'absent'} is not a folder" in error_line(result)


def test_failed_download_points_to_raw_dir(tmp_path):
    # A "mirror" holding only the training files: those download, the first missing one stops the run.
    mirror = write_toy(tmp_path / "mirror")
    for path in mirror.iterdir():
        if not path.name.startswith("train."):
            path.unlink()
    result = prepare(tmp_path, env={"MULTI30K_URL": f"file://{mirror}"}, check=False)
    assert result.returncode == 1
    error = error_line(result)
    assert error.startswith(f"error: could not download file://{mirror}/val.de.gz") and "--raw-dir" in error
    download = tmp_path / "work" / "download"
    assert sorted(path.name for path in download.iterdir()) == ["train.de.gz", "train.en.gz"]
    assert (download / "train.de.gz").read_bytes() == (mirror / "train.de.gz").read_bytes()


def test_sides_of_different_length_are_refused(tmp_path):
    raw = write_toy(tmp_path / "raw")
    with gzip.open(raw / "val.en.gz", "at", encoding="utf-8") as f:
        f.write("One sentence too many.\n")
    result = prepare(tmp_path, "--raw-dir", raw, check=False)
    assert result.returncode == 1
    error = error_line(result)
    assert "val.de.gz has 5 sentences but" in error and "val.en.gz has 6" in error
    assert not (tmp_path / "data-bin" / "multi30k.de-en").exists()


def test_invalid_utf8_is_refused_with_file_and_line(tmp_path):
    raw = write_toy(tmp_path / "raw")
    with gzip.open(raw / "test_2016_flickr.de.gz", "ab") as f:
        f.write("Ein Mädchen.\n".encode("latin-1"))
    result = prepare(tmp_path, "--raw-dir", raw, check=False)
    assert result.returncode == 1
    assert "test_2016_flickr.de.gz line 6 is not valid UTF-8" in error_line(result)


def test_usage(tmp_path):
    assert prepare(tmp_path, "--raw-dir", check=False).returncode == 2
    result = prepare(tmp_path, "--frobnicate", check=False)
    assert result.returncode == 2 and "unknown argument '--frobnicate'" in error_line(result)
    assert "--raw-dir DIR" in prepare(tmp_path, "--help").stdout
