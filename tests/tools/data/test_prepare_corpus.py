"""The corpus preparation steps (macaron_tools.data.prepare_corpus and the modules it runs), in process."""

import gzip

import pytest

from macaron_tools.data import moses_tokenize, prepare_corpus
from macaron_tools.data.length_filter import EMPTY, KEPT, RATIO, TOO_LONG, LengthFilter
from macaron_tools.data.markup import segments, ted_training_sentences
from macaron_tools.data.moses_tokenize import MosesPreprocessor, preprocess_lines
from macaron_tools.data.text_files import CorpusError


def write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def read(path):
    return path.read_bytes().decode("utf-8").split("\n")[:-1]


def prepare(*args):
    return prepare_corpus.main([str(arg) for arg in args])


def only_error(capsys):
    """The one line a failed command printed about its failure."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# --- markup ---------------------------------------------------------------------------------------------------


def test_segments_are_trimmed_and_entities_kept():
    lines = ['<doc docid="1">', '<seg id="1">  A  b &amp; c </seg>', "<p>", '<seg id="2"></seg>', "</doc>"]
    assert list(segments(lines, "x.sgm")) == ["A b &amp; c", ""]
    with pytest.raises(CorpusError, match=r"x.xml line 1 opens a <seg>"):
        list(segments(['<seg id="1">broken'], "x.xml"))


def test_ted_training_text_drops_metadata_and_keeps_titles():
    lines = [
        "<url>http://www.ted.com/talks/x.html</url>", "<keywords>talks, x</keywords>", "<speaker>A B</speaker>",
        "<talkid>1</talkid>", "<title>Ein Titel</title>", "<description>Eine  Beschreibung</description>",
        '<reviewer href="x">R</reviewer>', "Ein Satz.", "  Noch einer. ", "</doc>",
    ]
    assert list(ted_training_sentences(lines)) == ["Ein Titel", "Eine Beschreibung", "Ein Satz.", "Noch einer."]


# --- Moses tokenization ---------------------------------------------------------------------------------------


def test_moses_options():
    plain = MosesPreprocessor("en")
    assert plain('The "state-of-the-art" dog & cat.') == 'The " state-of-the-art " dog & cat .'  # not escaped
    wmt = MosesPreprocessor("de", aggressive_dash_splits=True, normalize_punctuation=True, remove_non_printing=True)
    assert wmt("Der \u201erot-blaue\u201c\u200bHund\tläuft.") == 'Der " rot @-@ blaue " Hund läuft .'
    iwslt = MosesPreprocessor("en", lowercase=True, straight_apostrophes=True)
    assert iwslt("It\u2019s Good.") == "it 's good ."


def test_parallel_tokenization_keeps_order(monkeypatch):
    monkeypatch.setattr(moses_tokenize, "CHUNK_LINES", 7)
    lines = [f"Satz Nummer {i}, gut." for i in range(200)]
    serial = list(preprocess_lines(lines, {"lang": "de"}, workers=1))
    parallel = list(preprocess_lines(lines, {"lang": "de"}, workers=2, expected_lines=10**6))
    assert parallel == serial and serial[3] == "Satz Nummer 3 , gut ."


def test_tokenize_command_prints_progress_and_reports_empty_test_lines(tmp_path, capsys):
    write(tmp_path / "text" / "test.de", ["Ein Hund.", "", "Zwei  Katzen."])
    write(tmp_path / "text" / "test.en", ["A dog.", "Nothing here", "Two cats."])
    assert prepare("tokenize", "--langs", "de", "en", "--splits", "test", "--in-dir", tmp_path / "text",
                   "--out-dir", tmp_path / "tok", "--progress-every", 2, "--lowercase") == 0
    assert read(tmp_path / "tok" / "test.de") == ["ein hund .", "", "zwei katzen ."]
    err = capsys.readouterr().err
    assert "[tokenize] test.de: 2 lines" in err and "[tokenize] test.de: 3 lines done" in err
    assert "test: 1 pair(s) with an empty side (line 2): kept in place" in err


def test_tokenize_refuses_sides_of_different_length(tmp_path, capsys):
    write(tmp_path / "train.de", ["a", "b"])
    write(tmp_path / "train.en", ["a"])
    assert prepare("tokenize", "--langs", "de", "en", "--splits", "train", "--in-dir", tmp_path,
                   "--out-dir", tmp_path / "tok") == 1
    assert "train.de has 2 lines but" in only_error(capsys)
    assert not (tmp_path / "tok").exists()


def test_missing_input_names_the_file(tmp_path, capsys):
    assert prepare("tokenize", "--langs", "de", "en", "--splits", "valid", "--in-dir", tmp_path,
                   "--out-dir", tmp_path / "tok") == 1
    assert f"{tmp_path / 'valid.de'} does not exist" in only_error(capsys)


# --- extract --------------------------------------------------------------------------------------------------


def test_extract_concatenates_files_of_each_split(tmp_path, capsys):
    for lang, words in [("de", ["eins", "zwei"]), ("en", ["one", "two"])]:
        with gzip.open(tmp_path / f"train.{lang}.gz", "wt", encoding="utf-8") as f:
            f.write(f"{words[0]} \n{words[1]}\n")
        write(tmp_path / f"a.{lang}.xml", [f'<seg id="1">{words[0]}</seg>'])
        write(tmp_path / f"b.{lang}.xml", [f'<seg id="1">{words[1]}</seg>'])
    test_files = f"{tmp_path}/a.{{lang}}.xml,{tmp_path}/b.{{lang}}.xml"
    assert prepare("extract", "--langs", "de", "en", "--out-dir", tmp_path / "text",
                   f"train={tmp_path}/train.{{lang}}.gz", f"test={test_files}") == 0
    assert read(tmp_path / "text" / "train.de") == ["eins", "zwei"]  # trailing space gone
    assert read(tmp_path / "text" / "test.en") == ["one", "two"]
    assert "[extract] test: 2 sentence pairs from 2 file pair(s)" in capsys.readouterr().err


def test_extract_refuses_empty_split_and_bad_spec(tmp_path, capsys):
    (tmp_path / "train.de").write_bytes(b"")
    (tmp_path / "train.en").write_bytes(b"")
    assert prepare("extract", "--langs", "de", "en", "--out-dir", tmp_path / "t",
                   f"train={tmp_path}/train.{{lang}}") == 1
    assert "are empty: this split needs at least one sentence pair" in only_error(capsys)
    assert prepare("extract", "--langs", "de", "en", "--out-dir", tmp_path / "t", f"train={tmp_path}/train.de") == 1
    assert "has no {lang}" in only_error(capsys)


# --- clean ----------------------------------------------------------------------------------------------------


def test_length_filter_follows_clean_corpus_n():
    length_filter = LengthFilter(min_tokens=1, max_tokens=4, ratio=1.5)
    assert length_filter.keep("a b", "a b c")  # ratio exactly 1.5 passes
    assert not length_filter.keep("a b", "a b c d")  # 2.0
    assert not length_filter.keep("a b c d e", "a b c d e")
    assert not length_filter.keep("", "a")
    assert length_filter.counts == {KEPT: 1, RATIO: 1, TOO_LONG: 1, EMPTY: 1}
    assert length_filter.summary() == "kept 1 of 4 pairs (dropped: 1 length ratio, 1 too long, 1 empty side)"


def test_clean_filters_companion_text_alike(tmp_path, capsys):
    write(tmp_path / "tok" / "train.de", ["ein hund .", "ja .", ""])
    write(tmp_path / "tok" / "train.en", ["a dog .", "yes , this is long .", "x"])
    write(tmp_path / "text" / "train.de", ["Ein Hund.", "Ja.", ""])
    write(tmp_path / "text" / "train.en", ["A dog.", "Yes, this is long.", "x"])
    assert prepare("clean", "--langs", "de", "en", "--in-dir", tmp_path / "tok", "--out-dir", tmp_path / "clean",
                   "--ratio", 1.5, "--companion", tmp_path / "text", tmp_path / "text-clean") == 0
    assert read(tmp_path / "clean" / "train.en") == ["a dog ."]
    assert read(tmp_path / "text-clean" / "train.de") == ["Ein Hund."]
    assert "[clean] train.de-en: kept 1 of 3 pairs" in capsys.readouterr().err


def test_clean_refuses_when_nothing_is_left(tmp_path, capsys):
    write(tmp_path / "train.de", ["a b c"])
    write(tmp_path / "train.en", ["a b c"])
    assert prepare("clean", "--langs", "de", "en", "--in-dir", tmp_path, "--out-dir", tmp_path / "c",
                   "--max-tokens", 2) == 1
    assert "passes the filter" in only_error(capsys)
    assert not (tmp_path / "c" / "train.de").exists()


# --- sentencepiece --------------------------------------------------------------------------------------------


def test_bpe_pieces_join_back_to_the_tokenized_text(tmp_path, capsys):
    de = ["der kleine hund läuft im park .", "die katze schläft ½ ﬁ ."] * 20  # ½ and ﬁ would change under NFKC
    en = ["the small dog runs in the park .", "the cat sleeps ½ ﬁ ."] * 20
    write(tmp_path / "tok" / "train.de", de)
    write(tmp_path / "tok" / "train.en", en)
    write(tmp_path / "tok" / "test.de", ["der hund .", ""])
    write(tmp_path / "tok" / "test.en", ["the dog .", ""])
    assert prepare("bpe-train", "--model-prefix", tmp_path / "bpe" / "spm", "--vocab-size", 5000,
                   tmp_path / "tok" / "train.de", tmp_path / "tok" / "train.en") == 0
    assert "(asked for 5,000" in capsys.readouterr().err
    assert prepare("bpe-encode", "--model", tmp_path / "bpe" / "spm.model", "--langs", "de", "en",
                   "--splits", "train", "test", "--in-dir", tmp_path / "tok", "--out-dir", tmp_path / "bpe") == 0
    for split, lang in [("train", "de"), ("train", "en"), ("test", "de")]:
        pieces = read(tmp_path / "bpe" / f"{split}.{lang}")
        # what fairseq's --post-process sentencepiece does
        assert [line.replace(" ", "").replace("\u2581", " ").strip() for line in pieces] == read(
            tmp_path / "tok" / f"{split}.{lang}")
    assert read(tmp_path / "bpe" / "test.de")[1] == ""


def test_bpe_train_on_missing_text_is_one_line_error(tmp_path, capsys):
    assert prepare("bpe-train", "--model-prefix", tmp_path / "spm", "--vocab-size", 100, tmp_path / "train.de") == 1
    assert "train.de does not exist" in only_error(capsys)


# --- paths and bytes a step cannot use --------------------------------------------------------------------------


@pytest.mark.parametrize("name, gz, column", [("train.{lang}", False, 4), ("test.{lang}.gz", True, 4),
                                              ("dev.{lang}.sgm", False, 16)])  # counted in the file's line, tags too
def test_extract_refuses_a_nul_byte_naming_the_file_and_line(tmp_path, capsys, name, gz, column):
    # tokenization would delete the NUL and glue "Der" and "Mann", while the references kept it
    lines = {"de": ["Ein Hund.", "Der\0Mann schläft."], "en": ["A dog.", "The man sleeps."]}
    for lang, sentences in lines.items():
        if name.endswith(".sgm"):
            sentences = [f'<seg id="{n}">{s}</seg>' for n, s in enumerate(sentences, start=1)]
        text = ("\n".join(sentences) + "\n").encode("utf-8")
        (tmp_path / name.format(lang=lang)).write_bytes(gzip.compress(text) if gz else text)
    assert prepare("extract", "--langs", "de", "en", "--out-dir", tmp_path / "text",
                   f"train={tmp_path}/{name}") == 1
    assert only_error(capsys) == (
        f"error: {tmp_path / name.format(lang='de')} line 2 holds a NUL byte (character {column}), which tokenization "
        f"would drop, gluing the words around it: remove the NUL bytes, e.g. tr -d '\\000', or convert a UTF-16 file "
        f"with iconv -f UTF-16 -t UTF-8")
    assert not (tmp_path / "text").exists() or list((tmp_path / "text").iterdir()) == []


def test_tokenize_refuses_a_nul_byte_before_tokenizing(tmp_path, capsys):
    write(tmp_path / "train.de", ["Ein Hund.", "Der\0Mann."])
    write(tmp_path / "train.en", ["A dog.", "The man."])
    assert prepare("tokenize", "--langs", "de", "en", "--splits", "train", "--in-dir", tmp_path,
                   "--out-dir", tmp_path / "tok") == 1
    assert only_error(capsys).startswith(f"error: {tmp_path / 'train.de'} line 2 holds a NUL byte")
    assert not (tmp_path / "tok").exists()


def test_extract_checks_every_input_and_its_output_folder_before_reading(tmp_path, capsys):
    write(tmp_path / "train.de", ["Ein Hund."])
    write(tmp_path / "train.en", ["A dog."])
    (tmp_path / "test.de").mkdir()
    assert prepare("extract", "--langs", "de", "en", "--out-dir", tmp_path / "text", f"train={tmp_path}/train.{{lang}}",
                   f"test={tmp_path}/test.{{lang}}") == 1
    assert only_error(capsys) == f"error: {tmp_path / 'test.de'} is a folder: give the file of de sentences"
    assert not (tmp_path / "text").exists()  # the train split, readable, was not extracted first
    (tmp_path / "a-file").write_text("text\n")
    assert prepare("extract", "--langs", "de", "en", "--out-dir", tmp_path / "a-file",
                   f"train={tmp_path}/train.{{lang}}") == 1
    assert only_error(capsys) == f"error: --out-dir {tmp_path / 'a-file'} is a file: give a folder to write in"


def test_bpe_encode_refuses_a_missing_model_in_one_line(tmp_path, capsys):
    write(tmp_path / "train.de", ["Ein Hund ."])
    write(tmp_path / "train.en", ["A dog ."])
    assert prepare("bpe-encode", "--model", tmp_path / "spm.model", "--langs", "de", "en", "--splits", "train",
                   "--in-dir", tmp_path, "--out-dir", tmp_path / "bpe") == 1
    assert only_error(capsys) == f"error: --model {tmp_path / 'spm.model'} does not exist: check the path"
