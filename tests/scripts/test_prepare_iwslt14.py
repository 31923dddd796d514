"""scripts/prepare-iwslt14.sh, run offline on a tiny archive in the layout of the 2014-01 TED release de-en.tgz."""

import random
import tarfile

import pytest
from fairseq.data import Dictionary, data_utils

from conftest import REPO_ROOT, run
from prepared_data import assert_split_sizes, read
from macaron_tools.data import toy_corpus

SCRIPT = REPO_ROOT / "scripts" / "prepare-iwslt14.sh"
TEST_SETS = [  # in the order the test split concatenates them
    "IWSLT14.TED.dev2010", "IWSLT14.TEDX.dev2012", "IWSLT14.TED.tst2010", "IWSLT14.TED.tst2011", "IWSLT14.TED.tst2012",
]
TRAINING_PAIRS = 100


def talk_header(lang, talk):
    title = {"de": f"Titel {talk}", "en": f"Title {talk}"}[lang]
    description = {"de": f"Beschreibung {talk}", "en": f"Description {talk}"}[lang]
    return [
        f"<url>http://www.ted.com/talks/lang/{lang}/talk_{talk}.html</url>",
        f"<keywords>talks, secret-keyword-{talk}</keywords>",
        f"<talkid>{talk}</talkid>",
        f"<title>{title}</title>",
        f"<description>{description}</description>",
    ]


def evaluation_segments(index):
    """Three (de, en) pairs of test file ``index``; one has a typographic apostrophe and extra spaces."""
    return [
        toy_corpus.sentence_pair(random.Random(index)),
        ("Es ist  gut.", "It’s   good."),
        ("Danke.", "Thank you."),
    ]


def training_text():
    """Both sides of train.tags.de-en.*, and the (de, en) pairs the recipe keeps, in order.

    The test sentences are among the training pairs, so that every piece of the test set is in the dictionary.
    """
    rng = random.Random(3)
    lines = {"de": [], "en": []}
    kept = []
    for talk in (1, 2):
        for lang in ("de", "en"):
            lines[lang] += talk_header(lang, talk)
        kept += [(f"Titel {talk}", f"Title {talk}"), (f"Beschreibung {talk}", f"Description {talk}")]
        pairs = [toy_corpus.sentence_pair(rng) for _ in range(TRAINING_PAIRS // 2)]
        if talk == 1:
            pairs += [pair for index in range(len(TEST_SETS)) for pair in evaluation_segments(index)]
        for de, en in pairs:
            lines["de"].append(de)
            lines["en"].append(en)
            kept.append((" ".join(de.split()), " ".join(en.split())))
        # Pairs the cleaning drops: a length ratio over 1.5, more than 175 tokens, an empty side.
        for de, en in [
            ("Ja.", "Yes, this is a much longer answer than the German one."),
            (" ".join(["Wort"] * 180), " ".join(["word"] * 180)),
            ("", "Applause"),
        ]:
            lines["de"].append(de)
            lines["en"].append(en)
    return lines, kept


def evaluation_set_xml(name, lang, segments):
    kind = "srcset" if lang == "de" else "refset"
    body = [f'<seg id="{number}"> {text} </seg>' for number, text in enumerate(segments, start=1)]
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>', "<mteval>", f'<{kind} setid="{name}" srclang="german">',
        '<doc docid="1" genre="lectures">', "<url>http://www.ted.com/talks/test.html</url>",
        "<talkid>1</talkid>", *body, "</doc>", f"</{kind}>", "</mteval>", "",
    ])


def write_archive(path, train=None, skip_member=None):
    """de-en.tgz with the real layout: de-en/train.tags.de-en.{de,en} and de-en/IWSLT14.*.de-en.{de,en}.xml."""
    train = train or training_text()[0]
    members = {f"de-en/train.tags.de-en.{lang}": "\n".join(train[lang]) + "\n" for lang in ("de", "en")}
    for index, name in enumerate(TEST_SETS):
        pairs = evaluation_segments(index)
        for side, lang in enumerate(("de", "en")):
            members[f"de-en/{name}.de-en.{lang}.xml"] = evaluation_set_xml(name, lang, [pair[side] for pair in pairs])
    source = path.parent / (path.name + ".files")
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            if member == skip_member:
                continue
            file = source / member
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
            archive.add(file, arcname=member)
    return path


def prepare(archive, tmp_path, *flags, check=True):
    folders = ["--out", tmp_path / "data-bin" / "iwslt14.de-en", "--work-dir", tmp_path / "work"]
    return run(["bash", SCRIPT, archive, *flags, *folders], check=check)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("iwslt14")
    archive = write_archive(root / "de-en.tgz")
    result = prepare(archive, root)
    return root, archive, result


def test_writes_binarized_splits_model_and_references(prepared):
    root, _, result = prepared
    out = root / "data-bin" / "iwslt14.de-en"
    for split in ("train", "valid", "test"):
        for lang in ("de", "en"):
            assert (out / f"{split}.de-en.{lang}.bin").is_file() and (out / f"{split}.de-en.{lang}.idx").is_file()
    assert (out / "dict.de.txt").read_text() == (out / "dict.en.txt").read_text()  # joined dictionary
    assert (out / "spm.model").is_file() and (out / "spm.vocab").is_file()
    assert sorted(path.name for path in (out / "refs").iterdir()) == sorted(
        f"{split}.{kind}.{lang}" for split in ("valid", "test") for kind in ("detok", "tok") for lang in ("de", "en")
    )
    assert "wrote" in result.stdout and "test" in result.stdout


def test_split_sizes_follow_the_recipe(prepared):
    root, _, _ = prepared
    out = root / "data-bin" / "iwslt14.de-en"
    kept = len(training_text()[1])
    sizes = {"train": kept - kept // 23, "valid": kept // 23, "test": 3 * len(TEST_SETS)}
    assert_split_sizes(out, "de-en", sizes)


def test_references_strip_xml_and_keep_case_and_order(prepared):
    root, _, _ = prepared
    refs = root / "data-bin" / "iwslt14.de-en" / "refs"
    expected_test = [pair for index in range(len(TEST_SETS)) for pair in evaluation_segments(index)]
    assert read(refs / "test.detok.en") == [" ".join(en.split()) for _, en in expected_test]
    assert read(refs / "test.detok.en")[1] == "It’s good."  # not lowercased, apostrophe as written
    assert read(refs / "test.tok.en")[1:3] == ["it 's good .", "thank you ."]
    assert read(refs / "test.tok.en")[0] == expected_test[0][1].lower().replace(".", " .")
    kept = training_text()[1]
    assert read(refs / "valid.detok.de") == [de for de, _ in kept[22::23]]
    assert read(refs / "valid.tok.en") == [en.lower().replace(".", " .") for _, en in kept[22::23]]


def test_training_text_has_no_metadata_and_no_filtered_pairs(prepared):
    root, _, _ = prepared
    d = Dictionary.load(str(root / "data-bin" / "iwslt14.de-en" / "dict.en.txt"))
    train = data_utils.load_indexed_dataset(str(root / "data-bin" / "iwslt14.de-en" / "train.de-en.en"), d)
    text = [d.string(train[i], bpe_symbol="sentencepiece") for i in range(len(train))]
    assert not any("secret-keyword" in line or "talks" in line or "www.ted.com" in line for line in text)
    assert text[:2] == ["title 1", "description 1"]  # title and description lines are text, without their tags
    assert not any(line.startswith("yes , this") or line == "applause" for line in text)
    assert max(len(line.split()) for line in text) <= 175


def test_binarized_test_source_reads_back_as_the_tokenized_reference(prepared):
    root, _, _ = prepared
    out = root / "data-bin" / "iwslt14.de-en"
    d = Dictionary.load(str(out / "dict.de.txt"))
    test = data_utils.load_indexed_dataset(str(out / "test.de-en.de"), d)
    decoded = [d.string(test[i], bpe_symbol="sentencepiece") for i in range(len(test))]
    assert decoded == read(out / "refs" / "test.tok.de")


def test_second_run_reuses_the_result(prepared):
    root, archive, _ = prepared
    result = prepare(archive, root)
    assert "up to date" in result.stdout
    assert "test" in result.stdout  # still prints the split sizes


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_missing_archive_is_one_line_error(tmp_path):
    result = prepare(tmp_path / "nowhere" / "de-en.tgz", tmp_path, check=False)
    assert result.returncode == 1
    [error] = error_lines(result)
    assert "nowhere/de-en.tgz" in error and "wit3.fbk.eu" in error
    assert not (tmp_path / "data-bin" / "iwslt14.de-en").exists()


def test_unreachable_url_is_one_line_error(tmp_path):
    result = prepare(f"file://{tmp_path}/missing/de-en.tgz", tmp_path, check=False)
    assert result.returncode == 1
    [error] = error_lines(result)
    assert error.startswith("error: could not download") and "local copy" in error


def test_archive_without_a_test_set_is_refused(tmp_path):
    archive = write_archive(tmp_path / "de-en.tgz", skip_member="de-en/IWSLT14.TED.tst2012.de-en.en.xml")
    result = prepare(archive, tmp_path, check=False)
    assert result.returncode == 1
    [error] = error_lines(result)
    assert "lacks IWSLT14.TED.tst2012.de-en.en.xml" in error


def test_file_that_is_no_archive_is_refused(tmp_path):
    archive = tmp_path / "de-en.tgz"
    archive.write_text("not a tar file\n")
    result = prepare(archive, tmp_path, check=False)
    assert result.returncode == 1
    [error] = error_lines(result)
    assert "not a readable .tgz" in error


def test_training_sides_of_different_length_are_refused(tmp_path):
    train = training_text()[0]
    train["en"] = train["en"] + ["One sentence too many."]
    result = prepare(write_archive(tmp_path / "de-en.tgz", train=train), tmp_path, check=False)
    assert result.returncode == 1
    [error] = error_lines(result)
    assert "train.tags.de-en.de has" in error and "train.tags.de-en.en has" in error
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data-bin" / "iwslt14.de-en").exists()


def test_usage_errors_exit_2(tmp_path):
    assert prepare("--no-such-flag", tmp_path, check=False).returncode == 2
    result = run(["bash", SCRIPT], check=False)
    assert result.returncode == 2 and "name the IWSLT14 archive" in result.stderr
    assert "ARCHIVE_OR_URL" in run(["bash", SCRIPT, "--help"]).stdout
