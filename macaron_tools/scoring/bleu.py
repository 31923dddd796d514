"""BLEU two ways: sacreBLEU on detokenized text, and the tokenized BLEU that the paper reports; and chrF.

sacreBLEU (Post 2018) scores detokenized hypotheses against untokenized references with its own tokenizer, and
its signature says how; that is the number readers compare today. chrF (Popović 2015, sacreBLEU's
``corpus_chrf``, with its own signature) is scored on the same detokenized text. The paper's numbers are tokenized BLEU, in two
variants (settings.sh names each setting's as TOKENIZED_BLEU):

- ``lowercase`` (IWSLT14, Multi30k): BLEU on the lowercased Moses tokens of hypothesis and reference, as fairseq's
  own BLEU and multi-bleu.perl -lc compute it.
- ``compound-split`` (WMT14): both sides are detokenized, Moses-tokenized again without aggressive hyphen
  splitting, and hyphenated compounds split as ``a ##AT##-##AT## b``; then cased multi-bleu style BLEU. This is
  how the papers of that time (GNMT, ConvS2S, Transformer) score newstest2014.

Usage, on one fairseq-generate run (writes the hypotheses in sentence order, then scores them)::

    python -m macaron_tools.scoring.bleu --generate-log generate-test.log --lang en --variant lowercase \\
        --ref-detok refs/test.detok.en --ref-tok refs/test.tok.en \\
        --hyp-tok-out test.hyp.tok --hyp-detok-out test.hyp.detok --json test.json

Without ``--ref-detok``/``--ref-tok`` the log's own T- lines are the (tokenized) references.
"""

import argparse
import dataclasses
import json
import os
import re

from sacrebleu.metrics import BLEU, CHRF
from sacremoses import MosesDetokenizer, MosesTokenizer

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.files import read_lines, require_input_file, require_writable_output, write_json, write_lines
from macaron_tools.scoring.evaluation_record import SplitScores
from macaron_tools.scoring.generate_output import in_sentence_order, read_generate_output

TOKENIZED_BLEU_VARIANTS = ("lowercase", "compound-split")

# The regular expression of the classic newstest2014 scoring script, applied once left to right: "a-b-c" becomes
# "a ##AT##-##AT## b-c". Kept as it is so that scores compare with the published ones.
HYPHENATED_COMPOUND = re.compile(r"(\S)-(\S)")


class LineCountError(MacaronFairseqError):
    """Hypotheses and references that do not pair up one to one."""


def check_same_count(hypotheses, hypotheses_source, references, references_source):
    """Every reference sentence is scored, once: refuses hypotheses and references of different counts."""
    if len(hypotheses) == len(references):
        return
    if len(hypotheses) < len(references):
        fix = ("sentences were left out: decode with --user-dir macaron_fairseq (it keeps fairseq's last batch) "
               "and without --skip-invalid-size-inputs-valid-test")
    else:
        fix = "the references do not belong to this split: prepare the data again"
    raise LineCountError(
        f"{len(hypotheses)} hypotheses in {hypotheses_source} but {len(references)} references in "
        f"{references_source}: {fix}"
    )


def detokenize(lines, lang):
    """Moses detokenization (sacremoses), which also joins ``@-@`` hyphens and unescapes ``&amp;`` and the like."""
    detokenizer = MosesDetokenizer(lang=lang)
    return [detokenizer.detokenize(line.split()) for line in lines]


def is_lowercased(lines):
    return all(line == line.lower() for line in lines)


def sacrebleu_score(hypotheses, references, lowercase=False):
    """Corpus sacreBLEU of detokenized ``hypotheses``; returns (score, signature string)."""
    bleu = BLEU(lowercase=lowercase)
    return bleu.corpus_score(hypotheses, [references]).score, str(bleu.get_signature())


def chrf_score(hypotheses, references, lowercase=False):
    """Corpus chrF of detokenized ``hypotheses``; returns (score, signature string)."""
    chrf = CHRF(lowercase=lowercase)
    return chrf.corpus_score(hypotheses, [references]).score, str(chrf.get_signature())


def tokens_bleu(hypotheses, references, lowercase):
    """multi-bleu.perl's BLEU: n-grams of the given whitespace tokens, no smoothing."""
    bleu = BLEU(tokenize="none", lowercase=lowercase, smooth_method="none", force=True)
    return bleu.corpus_score(hypotheses, [references]).score


def lowercase_tokenized_bleu(hypotheses_tok, references_tok):
    return tokens_bleu(hypotheses_tok, references_tok, lowercase=True)


def split_compounds(line):
    return HYPHENATED_COMPOUND.sub(r"\1 ##AT##-##AT## \2", line)


def compound_split_tokens(detokenized_lines, lang):
    tokenizer = MosesTokenizer(lang=lang)
    return [split_compounds(tokenizer.tokenize(line, escape=False, return_str=True)) for line in detokenized_lines]


def compound_split_bleu(hypotheses_detok, references_detok, lang):
    return tokens_bleu(
        compound_split_tokens(hypotheses_detok, lang), compound_split_tokens(references_detok, lang), lowercase=False
    )


def tokenized_bleu(variant, hypotheses_tok, references_tok, hypotheses_detok, references_detok, lang):
    if variant == "lowercase":
        return lowercase_tokenized_bleu(hypotheses_tok, references_tok)
    if variant == "compound-split":
        return compound_split_bleu(hypotheses_detok, references_detok, lang)
    raise MacaronFairseqError(f"unknown tokenized BLEU variant {variant!r}: choose one of {TOKENIZED_BLEU_VARIANTS}")


def score(variant, lang, hypotheses_tok, references_tok, references_detok):
    """Every score of Moses-tokenized hypotheses, as fields of
    :class:`~macaron_tools.scoring.evaluation_record.SplitScores`; returns a dict and the detokenized hypotheses."""
    hypotheses_detok = detokenize(hypotheses_tok, lang)
    # A system trained on lowercased text (IWSLT14) cannot produce case; scoring its case would measure nothing.
    # The tokenized references are what it was trained to produce, so their case decides, and the signature shows it.
    lowercase = is_lowercased(references_tok)
    sacrebleu, signature = sacrebleu_score(hypotheses_detok, references_detok, lowercase=lowercase)
    chrf, chrf_signature = chrf_score(hypotheses_detok, references_detok, lowercase=lowercase)
    scores = {
        "hypotheses": len(hypotheses_tok),
        "sacrebleu": sacrebleu,
        "sacrebleu_signature": signature,
        "chrf": chrf,
        "chrf_signature": chrf_signature,
        "tokenized_bleu": tokenized_bleu(
            variant, hypotheses_tok, references_tok, hypotheses_detok, references_detok, lang
        ),
        "tokenized_bleu_variant": variant,
        "lowercase": lowercase,
    }
    return scores, hypotheses_detok


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    hypotheses = parser.add_mutually_exclusive_group(required=True)
    hypotheses.add_argument("--generate-log", help="fairseq-generate output (stdout and log) to score")
    hypotheses.add_argument("--hyp-tok", help="Moses-tokenized hypotheses, one per line, in sentence order")
    parser.add_argument("--lang", required=True, help="target language, for Moses (de-)tokenization")
    parser.add_argument("--variant", required=True, choices=TOKENIZED_BLEU_VARIANTS, help="tokenized BLEU variant")
    parser.add_argument("--ref-detok", help="untokenized references (default: the log's T- lines, detokenized)")
    parser.add_argument("--ref-tok", help="Moses-tokenized references (default: the log's T- lines)")
    parser.add_argument("--hyp-tok-out", help="write the hypotheses of --generate-log here, in sentence order")
    parser.add_argument("--hyp-detok-out", help="write the detokenized hypotheses here")
    parser.add_argument("--json", help="write the scores here as JSON (default: stdout)")
    args = parser.parse_args(argv)
    if (args.ref_detok is None) != (args.ref_tok is None):
        parser.error("give both --ref-detok and --ref-tok, or neither to score against the log's T- lines")
    if args.ref_tok is None and args.generate_log is None:
        parser.error("--hyp-tok needs --ref-detok and --ref-tok")
    return args


INPUTS = {
    "generate_log": ("--generate-log", "fairseq-generate's output"),
    "hyp_tok": ("--hyp-tok", "the Moses-tokenized hypotheses, one per line"),
    "ref_detok": ("--ref-detok", "the untokenized references, one per line"),
    "ref_tok": ("--ref-tok", "the Moses-tokenized references, one per line"),
}
OUTPUTS = {"hyp_tok_out": "--hyp-tok-out", "hyp_detok_out": "--hyp-detok-out", "json": "--json"}


def check_paths(args):
    """Every input readable and every output writable, before a line is scored."""
    for name, (option, what) in INPUTS.items():
        if getattr(args, name) is not None:
            require_input_file(getattr(args, name), option, what)
    for name, option in OUTPUTS.items():
        if getattr(args, name) is not None:
            require_writable_output(getattr(args, name), option)


def score_generate_output(generate_log, lang, variant, ref_tok=None, ref_detok=None):
    """Scores one fairseq-generate log against the references (default: its own T- lines).

    Returns the :class:`SplitScores`, and the Moses-tokenized and the detokenized hypotheses in sentence order."""
    generated = read_generate_output(generate_log)
    if ref_tok is not None:
        references_tok, references_detok = list(read_lines(ref_tok)), list(read_lines(ref_detok))
        check_same_count(generated.hypotheses, generate_log, references_detok, ref_detok)
        check_same_count(generated.hypotheses, generate_log, references_tok, ref_tok)
        references = {"detok": ref_detok, "tok": ref_tok}
    else:
        targets = f"the T- lines of {generate_log}"
        references_tok = in_sentence_order(generated.targets, targets)
        check_same_count(generated.hypotheses, generate_log, references_tok, targets)
        references_detok = detokenize(references_tok, lang)
        # named without its folder: evaluate.sh moves the log beside result.json once every split is scored
        references = {"detok": None, "tok": f"the T- lines of {os.path.basename(generate_log)}"}
    hypotheses_tok = in_sentence_order(generated.hypotheses, generate_log)
    scores, hypotheses_detok = score(variant, lang, hypotheses_tok, references_tok, references_detok)
    split_scores = SplitScores(
        **scores, references=references, decode_seconds=generated.decode_seconds,
        sentences_per_second=generated.sentences_per_second, generated_tokens=generated.generated_tokens,
        tokens_per_second=generated.tokens_per_second,
    )
    return split_scores, hypotheses_tok, hypotheses_detok


def main(argv=None):
    args = parse_args(argv)
    check_paths(args)
    if args.generate_log:
        scores, hypotheses_tok, hypotheses_detok = score_generate_output(
            args.generate_log, args.lang, args.variant, args.ref_tok, args.ref_detok
        )
        result = dataclasses.asdict(scores)
    else:
        hypotheses_tok = list(read_lines(args.hyp_tok))
        references_tok, references_detok = list(read_lines(args.ref_tok)), list(read_lines(args.ref_detok))
        check_same_count(hypotheses_tok, args.hyp_tok, references_detok, args.ref_detok)
        check_same_count(hypotheses_tok, args.hyp_tok, references_tok, args.ref_tok)
        result, hypotheses_detok = score(args.variant, args.lang, hypotheses_tok, references_tok, references_detok)
        result["references"] = {"detok": args.ref_detok, "tok": args.ref_tok}
    if args.hyp_tok_out:
        write_lines(args.hyp_tok_out, hypotheses_tok)
    if args.hyp_detok_out:
        write_lines(args.hyp_detok_out, hypotheses_detok)
    if args.json:
        write_json(args.json, result)
    else:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    run_command(main)
