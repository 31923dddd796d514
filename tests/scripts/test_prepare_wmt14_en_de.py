"""scripts/prepare-wmt14-en-de.sh, run offline on tiny archives in the layout of the five WMT archives."""

import random
import tarfile

import pytest
from fairseq.data import Dictionary, data_utils

from conftest import REPO_ROOT, run
from prepared_data import assert_split_sizes, read
from macaron_tools.data import toy_corpus

SCRIPT = REPO_ROOT / "scripts" / "prepare-wmt14-en-de.sh"
ARCHIVES = [
    "training-parallel-europarl-v7.tgz", "training-parallel-commoncrawl.tgz", "training-parallel-nc-v12.tgz",
    "dev.tgz", "test-full.tgz",
]
LONG = 85  # tokens: over the training limit of 80


def english_german(rng):
    german, english = toy_corpus.sentence_pair(rng)
    return english, german


def training_corpora():
    """{corpus: (en lines, de lines)}, and the (en, de) pairs the recipe keeps, in corpus order."""
    rng = random.Random(5)
    corpora, kept = {}, []
    for corpus, extra in [
        ("europarl-v7.de-en", [("", "Leere Zeile.")]),  # europarl has pairs with one empty side
        ("commoncrawl.de-en", [("Yes.", "Ja, das ist eine viel längere Antwort als die englische.")]),
        ("news-commentary-v12.de-en", [(" ".join(["word"] * LONG), " ".join(["Wort"] * LONG))]),
    ]:
        pairs = [english_german(rng) for _ in range(40)]
        kept += pairs
        pairs += extra
        corpora[corpus] = ([en for en, _ in pairs], [de for _, de in pairs])
    # One pair with a hyphenated compound, typographic quotes and a zero-width space; kept (13 and 9 tokens).
    corpora["news-commentary-v12.de-en"][0].append("The state-of-the-art \u201cdog\u201d runs.")
    corpora["news-commentary-v12.de-en"][1].append("Der \u201ehochmoderne\u201c Hund\u200b läuft heute schnell.")
    kept.append((corpora["news-commentary-v12.de-en"][0][-1], corpora["news-commentary-v12.de-en"][1][-1]))
    return corpora, kept


def sgm(kind, setid, lang, segments):
    body = [f'<seg id="{number}">{text}</seg>' for number, text in enumerate(segments, start=1)]
    return "\n".join([
        f'<{kind} setid="{setid}" srclang="any" trglang="{lang}">',
        '<doc sysid="ref" docid="doc-1" genre="news" origlang="en">', "<p>", *body, "</p>", "</doc>", f"</{kind}>", "",
    ])


def evaluation_sets():
    """{name: (en segments, de segments)}; the test set has a long sentence and an empty segment, both kept."""
    rng = random.Random(7)
    valid = [english_german(rng) for _ in range(6)]
    test = [english_german(rng) for _ in range(4)]
    test.insert(1, (" ".join(["word"] * LONG) + ".", " ".join(["Wort"] * LONG) + "."))
    test.insert(2, ("", ""))
    test.append(("A well-known  dog.", "Ein \u201ebekannter\u201c Hund."))
    return {name: ([en for en, _ in pairs], [de for _, de in pairs]) for name, pairs in
            [("newstest2013", valid), ("newstest2014", test)]}


def write_archives(folder, corpora=None, skip=()):
    """The five archives, each with the members the script reads, in the folders they have in the real ones."""
    corpora = corpora or training_corpora()[0]
    (valid_en, valid_de), (test_en, test_de) = evaluation_sets()["newstest2013"], evaluation_sets()["newstest2014"]
    members = {
        "training-parallel-europarl-v7.tgz": {"training/europarl-v7.de-en.en": corpora["europarl-v7.de-en"][0],
                                              "training/europarl-v7.de-en.de": corpora["europarl-v7.de-en"][1],
                                              "training/europarl-v7.fr-en.fr": ["Bonjour."]},
        "training-parallel-commoncrawl.tgz": {"commoncrawl.de-en.en": corpora["commoncrawl.de-en"][0],
                                              "commoncrawl.de-en.de": corpora["commoncrawl.de-en"][1]},
        "training-parallel-nc-v12.tgz": {
            "training/news-commentary-v12.de-en.en": corpora["news-commentary-v12.de-en"][0],
            "training/news-commentary-v12.de-en.de": corpora["news-commentary-v12.de-en"][1]},
        "dev.tgz": {
            "dev/newstest2013-src.en.sgm": sgm("srcset", "newstest2013", "en", valid_en),
            "dev/newstest2013-ref.de.sgm": sgm("refset", "newstest2013", "de", valid_de)},
        "test-full.tgz": {  # the en-de direction reads the English source and the German reference
            "test-full/newstest2014-deen-src.en.sgm": sgm("srcset", "newstest2014", "en", test_en),
            "test-full/newstest2014-deen-ref.de.sgm": sgm("refset", "newstest2014", "de", test_de)},
    }
    folder.mkdir(parents=True, exist_ok=True)
    for archive, files in members.items():
        source = folder / (archive + ".files")
        with tarfile.open(folder / archive, "w:gz") as tgz:
            for member, text in files.items():
                if member in skip:
                    continue
                path = source / member
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text if isinstance(text, str) else "\n".join(text) + "\n", encoding="utf-8")
                tgz.add(path, arcname=member)
    return folder


def prepare(archive_dir, tmp_path, check=True):
    folders = ["--out", tmp_path / "data-bin" / "wmt14.en-de", "--work-dir", tmp_path / "work"]
    return run(["bash", SCRIPT, "--archive-dir", archive_dir, *folders], check=check)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("wmt14")
    result = prepare(write_archives(root / "archives"), root)
    return root / "data-bin" / "wmt14.en-de", result


def test_split_sizes_follow_the_recipe(prepared):
    out, _ = prepared
    sizes = {"train": len(training_corpora()[1]), "valid": 6, "test": 7}
    assert (out / "dict.en.txt").read_text() == (out / "dict.de.txt").read_text()
    assert_split_sizes(out, "en-de", sizes)
    assert (out / "spm.model").is_file() and (out / "spm.vocab").is_file()


def test_test_set_is_complete_and_reports_its_empty_segment(prepared):
    out, result = prepared
    en, de = evaluation_sets()["newstest2014"]
    assert read(out / "refs" / "test.detok.en") == [" ".join(line.split()) for line in en]
    assert read(out / "refs" / "test.detok.de") == de  # the reference as written: not normalized, cased
    assert read(out / "refs" / "test.tok.en")[1].split() == ["word"] * LONG + ["."]  # longer than 80: kept
    assert read(out / "refs" / "test.tok.de")[2] == ""
    assert "test: 1 pair(s) with an empty side (line 3)" in result.stderr


def test_tokenized_text_is_normalized_cased_and_splits_dashes(prepared):
    out, _ = prepared
    assert read(out / "refs" / "test.tok.en")[-1] == "A well @-@ known dog ."
    assert read(out / "refs" / "test.tok.de")[-1] == 'Ein " bekannter " Hund .'
    d = Dictionary.load(str(out / "dict.en.txt"))
    train = {}
    for lang in ("en", "de"):
        data = data_utils.load_indexed_dataset(str(out / f"train.en-de.{lang}"), d)
        train[lang] = [d.string(data[i], bpe_symbol="sentencepiece") for i in range(len(data))]
    assert train["en"][-1] == 'The state @-@ of @-@ the @-@ art " dog " runs .'
    assert train["de"][-1] == 'Der " hochmoderne " Hund läuft heute schnell .'  # the zero-width space is gone


def test_training_pairs_are_filtered_by_length_and_ratio(prepared):
    out, _ = prepared
    d = Dictionary.load(str(out / "dict.de.txt"))
    data = data_utils.load_indexed_dataset(str(out / "train.en-de.de"), d)
    train_de = [d.string(data[i], bpe_symbol="sentencepiece") for i in range(len(data))]
    assert not any(line.startswith("Ja , das") or line == "Leere Zeile ." or "Wort Wort" in line for line in train_de)


def test_missing_archive_names_it_and_its_address(tmp_path):
    archives = write_archives(tmp_path / "archives")
    (archives / "dev.tgz").unlink()
    result = prepare(archives, tmp_path, check=False)
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "lacks dev.tgz" in error and "http://data.statmt.org/wmt17/translation-task/dev.tgz" in error


def test_archive_without_a_needed_file_is_refused(tmp_path):
    archives = write_archives(tmp_path / "archives", skip={"test-full/newstest2014-deen-ref.de.sgm"})
    result = prepare(archives, tmp_path, check=False)
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "test-full.tgz lacks" in error and "newstest2014-deen-ref.de.sgm" in error
    assert not (tmp_path / "data-bin" / "wmt14.en-de").exists()


def test_corpus_sides_of_different_length_are_refused(tmp_path):
    corpora = training_corpora()[0]
    corpora["commoncrawl.de-en"][1].append("Ein Satz zu viel.")
    result = prepare(write_archives(tmp_path / "archives", corpora=corpora), tmp_path, check=False)
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "commoncrawl.de-en.en has 41 sentences but" in error and "commoncrawl.de-en.de has 42" in error
    assert "Traceback" not in result.stderr


def test_usage(tmp_path):
    assert run(["bash", SCRIPT, "--unknown"], check=False).returncode == 2
    assert "--archive-dir" in run(["bash", SCRIPT, "--help"]).stdout
