"""What the tests of scripts/prepare-*.sh read back from a prepared data folder."""

from fairseq.data import Dictionary, data_utils


def read(path):
    """The lines of a text file, split at \\n only (as the scripts count them)."""
    return path.read_bytes().decode("utf-8").split("\n")[:-1]


def assert_split_sizes(out, pair, sizes):
    """Each split of ``sizes`` holds that many sentences on both sides of ``pair`` ("de-en"), binarized, and every
    evaluation split as many lines in both of its references (refs/SPLIT.{detok,tok}.LANG)."""
    dictionary = Dictionary.load(str(out / f"dict.{pair.split('-')[0]}.txt"))
    for split, size in sizes.items():
        for lang in pair.split("-"):
            assert len(data_utils.load_indexed_dataset(str(out / f"{split}.{pair}.{lang}"), dictionary)) == size
            if split != "train":
                for kind in ("detok", "tok"):
                    assert len(read(out / "refs" / f"{split}.{kind}.{lang}")) == size
