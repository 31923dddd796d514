"""Scores every decoded split of one evaluation and writes its record, ``result.json`` (see ``evaluation_record.py``).

scripts/evaluate.sh decodes each split with fairseq-generate, then calls this once for all of them::

    python -m macaron_tools.scoring.result --output eval/result.json --hypotheses-dir eval \\
        --setting iwslt14 --source-lang de --target-lang en --variant lowercase --data-dir DATA \\
        --checkpoint eval/checkpoint_avg_last5.pt --averaged c5.pt c4.pt ... \\
        --beam 5 --lenpen 1.0 --max-len-a 0 --max-len-b 200 \\
        --split test work/generate-test.log --split test1 work/generate-test1.log [--comet-model PATH]

The first ``--split`` is the primary one. Each split's references are ``DATA/refs/SPLIT.{detok,tok}.TGT`` when the
data has ``refs/``, else the log's own T- lines. ``SPLIT.hyp.tok`` and ``SPLIT.hyp.detok`` (the hypotheses in
sentence order) go to ``--hypotheses-dir``. COMET is scored only with ``--comet-model``, a local COMET checkpoint
(the ``unbabel-comet`` package must be installed; nothing is downloaded).
"""

import argparse
import os

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.files import (
    read_lines,
    require_input_file,
    require_output_folder,
    require_writable_output,
    write_lines,
)
from macaron_tools.scoring import comet
from macaron_tools.scoring.bleu import TOKENIZED_BLEU_VARIANTS, score_generate_output
from macaron_tools.scoring.evaluation_record import Decoding, EvaluationRecord


def references_of(data_dir, split, lang):
    """(tokenized, untokenized) reference files of ``split`` in ``data_dir/refs``, or (None, None) without refs/."""
    refs = os.path.join(data_dir, "refs")
    if not os.path.isdir(refs):
        return None, None
    return os.path.join(refs, f"{split}.tok.{lang}"), os.path.join(refs, f"{split}.detok.{lang}")


def summary(record: EvaluationRecord):
    lines = [f"setting {record.setting} ({record.source_lang}->{record.target_lang}): {record.checkpoint}"]
    if record.averaged:
        lines.append(f"  average of {len(record.averaged)}: " + " ".join(record.averaged))
    for name, scores in record.splits.items():
        speed = ""
        if scores.sentences_per_second is not None:
            speed = f"   {scores.sentences_per_second:.1f} sentences/s, {scores.tokens_per_second:.0f} tokens/s"
        lines.append(
            f"  {name:<8} {scores.hypotheses:>6} sentences   sacreBLEU {scores.sacrebleu:6.2f}   chrF "
            f"{scores.chrf:6.2f}   tokenized BLEU ({scores.tokenized_bleu_variant}) {scores.tokenized_bleu:6.2f}"
            + (f"   COMET {scores.comet:.4f}" if scores.comet is not None else "") + speed
        )
    lines.append(f"  sacreBLEU signature: {record.primary.sacrebleu_signature}")
    lines.append(f"  chrF signature: {record.primary.chrf_signature}")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="result.json to write")
    parser.add_argument("--hypotheses-dir", required=True, help="where SPLIT.hyp.tok and SPLIT.hyp.detok go")
    parser.add_argument("--setting", required=True)
    parser.add_argument("--source-lang", required=True)
    parser.add_argument("--target-lang", required=True)
    parser.add_argument("--variant", required=True, choices=TOKENIZED_BLEU_VARIANTS, help="tokenized BLEU variant")
    parser.add_argument("--data-dir", required=True, help="the binarized data decoded (its refs/ are the references)")
    parser.add_argument("--checkpoint", required=True, help="the checkpoint decoded")
    parser.add_argument("--averaged", nargs="+", help="the checkpoints averaged into --checkpoint, if any")
    parser.add_argument("--beam", type=int, required=True)
    parser.add_argument("--lenpen", type=float, required=True)
    parser.add_argument("--max-len-a", type=float, required=True, help="hypotheses were capped at A x source + B")
    parser.add_argument("--max-len-b", type=int, required=True)
    parser.add_argument("--split", dest="splits", nargs=2, action="append", required=True,
                        metavar=("NAME", "GENERATE_LOG"), help="a split and its fairseq-generate log; first: primary")
    parser.add_argument("--comet-model", help="a local COMET checkpoint (.ckpt) to score with as well")
    return parser.parse_args(argv)


def check_paths(args):
    """The outputs writable and every log readable, before the first split is scored (COMET's model loads first)."""
    require_writable_output(args.output, "--output")
    require_output_folder(args.hypotheses_dir, "--hypotheses-dir")
    for name, log in args.splits:
        require_input_file(log, f"--split {name}", "fairseq-generate's output for that split",
                           missing_fix="decode the split first (scripts/evaluate.sh), or give its log")


def main(argv=None):
    args = parse_args(argv)
    check_paths(args)
    comet_model = comet.load(args.comet_model) if args.comet_model else None
    splits = {}
    for name, log in args.splits:
        ref_tok, ref_detok = references_of(args.data_dir, name, args.target_lang)
        scores, hypotheses_tok, hypotheses_detok = score_generate_output(
            log, args.target_lang, args.variant, ref_tok, ref_detok
        )
        if comet_model is not None:
            if ref_detok is None:
                raise MacaronFairseqError(
                    f"COMET needs the untokenized sources and references, and {args.data_dir} has no refs/: "
                    f"prepare the data with scripts/prepare-*.sh, or leave out --comet-model"
                )
            _, source_detok = references_of(args.data_dir, name, args.source_lang)
            scores.comet = comet.score(comet_model, list(read_lines(source_detok)), hypotheses_detok,
                                       list(read_lines(ref_detok)))
            scores.comet_model = args.comet_model
        write_lines(os.path.join(args.hypotheses_dir, f"{name}.hyp.tok"), hypotheses_tok)
        write_lines(os.path.join(args.hypotheses_dir, f"{name}.hyp.detok"), hypotheses_detok)
        splits[name] = scores
    record = EvaluationRecord(
        setting=args.setting, source_lang=args.source_lang, target_lang=args.target_lang,
        checkpoint=args.checkpoint, averaged=args.averaged, data_dir=args.data_dir,
        decoding=Decoding(args.beam, args.lenpen, args.max_len_a, args.max_len_b),
        primary_split=args.splits[0][0], splits=splits,
    )
    record.write(args.output)
    print(summary(record))
    return 0


if __name__ == "__main__":
    run_command(main)
