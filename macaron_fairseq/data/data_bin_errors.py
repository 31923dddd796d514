"""One-line errors for a data-bin damaged on disk.

fairseq reports a damaged data-bin as a traceback whose last line names neither the file nor the fix: a dictionary
line without its count, ``ValueError: Incorrect dictionary format``; a dictionary that is not UTF-8 text,
``Exception: Incorrect encoding detected``; a ``.bin`` file cut short, ``ValueError: offset must be non-negative``
when the first batch reaches its end, in training or generation. Each becomes a :class:`DataBinError` naming the
file (and the line), and saying to prepare the data again, raised when the data is loaded, before anything runs.

A missing dictionary, or a data folder that does not exist, is named the same way, with the command that writes
it. The wrappers replace ``Dictionary.add_from_file``, through which every fairseq task reads its dictionaries,
``data_utils.infer_language_pair``, which finds a translation folder's direction, and ``indexed_dataset.make_dataset``,
which opens each binarized split (installed by :mod:`macaron_fairseq.fairseq_fixes`).
"""

import functools
import glob
import os
import struct

from macaron_fairseq.errors import MacaronFairseqError

PREPARE_AGAIN = "prepare the data again (the scripts/prepare-*.sh that wrote it, or fairseq-preprocess)"

MAX_DICTIONARY_ENTRIES = 2_000_000
"""More entries than any word or subword vocabulary a model is trained with (fairseq's word-level WikiText-103 has
267,744): a file this long is a corpus or something else given as a dictionary, and its embedding matrix would take
gigabytes, allocated after minutes of reading, before anything fails."""


class DataBinError(MacaronFairseqError):
    """A data-bin file that fairseq cannot read."""


def describe_dictionary_problem(path):
    """What is wrong with the dictionary at ``path``, read as fairseq reads it, or None where nothing is."""
    with open(path, "rb") as f:
        lines = f.read().splitlines()  # the line ends of fairseq's text-mode readlines(): \n, \r\n, \r
    seen = {}
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"is not UTF-8 text (line {number})"
        word, _, count = line.rstrip().rpartition(" ")
        overwrite = count == "#fairseq:overwrite"
        if overwrite:
            word, _, count = word.rpartition(" ")
        if not word or not count.lstrip("-").isdigit():
            return f"line {number} is not '<word> <count>': {line[:60]!r}"
        if word in seen and not overwrite:
            return f"line {number} repeats the word {word!r} of line {seen[word]}"
        seen[word] = number
    return None


def explain_dictionary_errors(add_from_file):
    @functools.wraps(add_from_file)
    def add_from_file_explained(dictionary, f):
        if not isinstance(f, str):
            return add_from_file(dictionary, f)  # fairseq's own call on the file it opened
        if os.path.isfile(f):
            entries = count_lines(f, stop_after=MAX_DICTIONARY_ENTRIES)
            if entries > MAX_DICTIONARY_ENTRIES:
                raise DataBinError(f"dictionary {f} has more than {MAX_DICTIONARY_ENTRIES:,} entries, more than any "
                                   f"vocabulary a model is trained with: it is not a dictionary fairseq-preprocess "
                                   f"wrote; {PREPARE_AGAIN}")
        try:
            return add_from_file(dictionary, f)
        except FileNotFoundError as error:
            folder = os.path.dirname(f) or "."
            if not os.path.isdir(folder):
                raise DataBinError(f"data folder {folder} does not exist (fairseq looked for its dictionary "
                                   f"{os.path.basename(f)}): check the path, or prepare the data") from error
            if os.path.basename(f) == "dict.txt":
                fix = "pass the folder that fairseq-preprocess --only-source wrote (--task language_modeling reads it)"
            else:
                fix = ("pass the folder that scripts/prepare-*.sh or fairseq-preprocess wrote (it holds the "
                       "dictionaries)")
            raise DataBinError(f"dictionary {f} does not exist: {fix}") from error
        except Exception as error:
            problem = describe_dictionary_problem(f)
            if problem is None:
                raise
            raise DataBinError(f"dictionary {f} {problem}: {PREPARE_AGAIN}") from error

    return add_from_file_explained


def count_lines(path, stop_after):
    """The lines of ``path``, counted up to one more than ``stop_after``."""
    lines = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            lines += block.count(b"\n")
            if lines > stop_after:
                break
    return lines


def name_missing_split_files(load_langpair_dataset):
    """``translation.load_langpair_dataset``: a split the folder lacks is named by its files, with the splits the
    folder has, rather than fairseq's ``Dataset not found: valid (DATA)``."""

    @functools.wraps(load_langpair_dataset)
    def load_langpair_dataset_naming_files(data_path, split, src, src_dict, tgt, tgt_dict, *args, **kwargs):
        try:
            return load_langpair_dataset(data_path, split, src, src_dict, tgt, tgt_dict, *args, **kwargs)
        except FileNotFoundError as error:
            if not str(error).startswith("Dataset not found"):
                raise
            prefix = os.path.join(data_path, f"{split}.{src}-{tgt}.{src}")
            missing = [name for name in (f"{prefix}.idx", f"{prefix}.bin") if not os.path.exists(name)]
            present = sorted({os.path.basename(name).split(".")[0]
                              for name in glob.glob(os.path.join(glob.escape(data_path), f"*.{src}-{tgt}.{src}.idx"))})
            raise DataBinError(
                f"{' and '.join(missing) or prefix + '.idx'} {'do' if len(missing) > 1 else 'does'} not exist: "
                f"the data folder has no {split} split for {src}-{tgt} (it has: {', '.join(present) or 'none'}); "
                f"prepare it again, or choose a split it has (--valid-subset, --gen-subset)") from error

    return load_langpair_dataset_naming_files


def require_data_folder(infer_language_pair):
    @functools.wraps(infer_language_pair)
    def infer_language_pair_of_a_data_folder(path):
        if not os.path.isdir(path):
            problem = "is a file" if os.path.exists(path) else "does not exist"
            raise DataBinError(f"data folder {path} {problem}: pass the folder that scripts/prepare-*.sh or "
                               f"fairseq-preprocess wrote")
        pair = infer_language_pair(path)
        if pair == (None, None):
            raise DataBinError(f"data folder {path} holds no binarized split (SPLIT.SRC-TGT.LANG.idx): pass the "
                               f"folder that scripts/prepare-*.sh or fairseq-preprocess wrote, or --source-lang "
                               f"and --target-lang")
        return pair

    return infer_language_pair_of_a_data_folder


def check_data_files(make_dataset):
    from fairseq.data.indexed_dataset import IndexedDataset, MMapIndexedDataset

    @functools.wraps(make_dataset)
    def make_dataset_checked(path, impl, *args, **kwargs):
        index_file, data_file = f"{path}.idx", f"{path}.bin"
        # Checked before fairseq opens them: a dataset or index it leaves half-built fails again in its __del__,
        # which prints a traceback after the error line. An index of the older formats (--dataset-impl lazy or
        # cached) is fairseq's to read.
        if impl != "raw" and os.path.isfile(index_file) and os.path.isfile(data_file) \
                and not _starts_with(index_file, IndexedDataset._HDR_MAGIC):
            problem = describe_index_problem(index_file)
            if problem:
                raise DataBinError(f"{index_file} {problem}: {PREPARE_AGAIN}")
            if os.path.getsize(data_file) == 0:
                raise DataBinError(f"{data_file} is empty: {PREPARE_AGAIN}")
        dataset = make_dataset(path, impl, *args, **kwargs)
        index = dataset._index if isinstance(dataset, MMapIndexedDataset) else None
        if index is not None and len(index):
            # sentences lie in the data file in order: the last one ends where the file must end at least
            pointer, size = index[len(index) - 1]
            needed = int(pointer) + int(size) * index.dtype().itemsize
            if len(dataset._bin_buffer) < needed:
                raise DataBinError(
                    f"{data_file} is truncated: it holds {len(dataset._bin_buffer)} bytes, where its index "
                    f"{index_file} needs {needed}: {PREPARE_AGAIN}"
                )
        return dataset

    return make_dataset_checked


def _starts_with(path, prefix):
    with open(path, "rb") as f:
        return f.read(len(prefix)) == prefix


_INDEX_HEADER = struct.Struct("<9sQBQ")
"""The header of fairseq's mmap index: its magic, format version 1, the code of the data's dtype, the number of
sentences; then each sentence's size (int32) and its offset in the data file (int64)."""


def describe_index_problem(index_file):
    """What is wrong with the header or length of an index file, as far as fairseq would fail on it, or None."""
    from fairseq.data import indexed_dataset

    with open(index_file, "rb") as f:
        header = f.read(_INDEX_HEADER.size)
    if len(header) < _INDEX_HEADER.size:
        return f"is truncated ({len(header)} bytes)"
    magic, version, dtype_code, sentences = _INDEX_HEADER.unpack(header)
    if (magic, version) != (indexed_dataset.MMapIndexedDataset.Index._HDR_MAGIC, 1) \
            or dtype_code not in indexed_dataset._code_to_dtype:
        return "is not an index that fairseq-preprocess writes with its default --dataset-impl mmap"
    expected = _INDEX_HEADER.size + sentences * (4 + 8)
    actual = os.path.getsize(index_file)
    if actual != expected:
        return f"is damaged or truncated: it holds {actual} bytes, where its header's {sentences} sentences need {expected}"
    return None
