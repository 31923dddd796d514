"""Perplexity of a trained language model on its data's valid and test splits: ``RUN/eval/lm_result.json``.

- ``language_modeling`` (causal): ``fairseq-eval-lm`` on each split (its ``main``, in this process), which scores
  every token of the split;
- ``masked_lm``: ``fairseq-validate`` on the splits, the masked-token loss of the training criterion, with the
  masks fairseq draws from the run's seed (so a seed's two models are scored on the same masked tokens).

Losses are fairseq's, in base 2, per token of the data's vocabulary (sentencepiece pieces after
scripts/prepare-lm.sh); the perplexity is 2 ** loss. scripts/compare.sh runs it for every LM run::

    python -m macaron_tools.scoring.lm_evaluation --task language_modeling --data-dir DATA \\
        --checkpoint-dir RUN [--splits valid test] [--cpu] [-- extra fairseq-eval-lm or fairseq-validate flags]

Progress is one ``==> `` line per step; bad input ends it with one ``error: ...`` line and exit status 1.
"""

import argparse
import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools import PLUGIN_DIR
from macaron_tools.files import require_input_file, require_writable_output, write_json
from macaron_tools.scoring.evaluation_record import require_field_types

RESULT_NAME = os.path.join("eval", "lm_result.json")
TASKS = ("language_modeling", "masked_lm")

_EVAL_LM_LOSS = re.compile(r"Loss \(base 2\): ([-\d.]+), Perplexity: ([-\d.e+]+|inf)")
_EVAL_LM_TOKENS = re.compile(r"Evaluated ([\d,]+) tokens in")
_VALIDATE = re.compile(r"valid on '([^']+)' subset \| (.*)$")
_FIELD = re.compile(r"(\w+) ([-\d.e+]+|inf)")


@dataclasses.dataclass
class SplitPerplexity:
    loss: float  # base 2, per token
    perplexity: float
    tokens: Optional[int] = None  # tokens scored by fairseq-eval-lm (None: fairseq-validate does not say)
    seconds: Optional[float] = None  # fairseq-eval-lm's time on the split, model loading included


@dataclasses.dataclass
class LanguageModelRecord:
    task: str
    checkpoint: str
    data_dir: str
    tool: str  # fairseq-eval-lm or fairseq-validate, with the flags this module added
    splits: Dict[str, SplitPerplexity]

    def write(self, path):
        write_json(path, dataclasses.asdict(self))

    @classmethod
    def read(cls, path):
        again = "evaluate the run again (python -m macaron_tools.scoring.lm_evaluation)"
        try:
            with open(path, encoding="utf-8") as f:
                fields = json.load(f)
            fields["splits"] = {name: SplitPerplexity(**split) for name, split in fields["splits"].items()}
            record = cls(**fields)
        except FileNotFoundError:
            raise MacaronFairseqError(f"{path} does not exist: evaluate the run first "
                                      f"(python -m macaron_tools.scoring.lm_evaluation)") from None
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise MacaronFairseqError(f"{path} is not a perplexity record of this version ({error}): evaluate the "
                                      f"run again") from None
        except OSError as error:
            raise MacaronFairseqError(f"cannot read {path} ({error.strerror}): {again}") from None
        require_field_types(record, path, again)
        if not record.splits:
            raise MacaronFairseqError(f"{path} holds no split's perplexity: {again}")
        return record


def parse_eval_lm(output):
    """(loss, perplexity, tokens) from fairseq-eval-lm's log, or None without its result line."""
    found = _EVAL_LM_LOSS.search(output)
    if not found:
        return None
    tokens = _EVAL_LM_TOKENS.search(output)
    return float(found.group(1)), float(found.group(2)), int(tokens.group(1).replace(",", "")) if tokens else None


def parse_validate(output):
    """{split: (loss, perplexity)} from fairseq-validate's summaries (the last one of each split)."""
    results = {}
    for line in output.splitlines():
        if found := _VALIDATE.search(line):
            fields = {name: float(value) for name, value in _FIELD.findall(found.group(2))}
            if "loss" in fields:
                loss = fields["loss"]
                results[found.group(1)] = (loss, fields.get("ppl", 2 ** loss))
    return results


def _run(name, command, log):
    """Runs ``command`` (the tool ``name``), its output appended to ``log`` (a file object); returns (output,
    seconds)."""
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    log.write(output)
    log.flush()
    if result.returncode != 0:
        last = next((line for line in reversed(output.strip().splitlines()) if line.strip()), "no output")
        raise MacaronFairseqError(f"{name} failed (exit status {result.returncode}): "
                                  f"{last.strip()[-300:]}")
    return output, time.time() - started


def eval_lm_in_process(common, splits, extra):
    """Yields (split, (loss, perplexity, tokens, seconds)) of fairseq-eval-lm's ``main`` on each split, in this
    process: fairseq and the model's code are imported once for all splits."""
    from fairseq import options
    from fairseq_cli import eval_lm

    import macaron_fairseq

    macaron_fairseq.register()  # imported before fairseq, as this module is: --user-dir finds it loaded already
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("fairseq_cli.eval_lm").addHandler(handler)
    for split in splits:
        print(f"==> fairseq-eval-lm on {split}", flush=True)
        messages.clear()
        started = time.time()
        args = options.parse_args_and_arch(options.get_eval_lm_parser(), [*common, "--gen-subset", split, *extra])
        results = eval_lm.main(args)
        parsed = parse_eval_lm("\n".join(messages))
        tokens = parsed[2] if parsed else None
        yield split, (float(results["loss"]), float(results["perplexity"]), tokens, time.time() - started)


def evaluate(task, data_dir, checkpoint, splits: List[str], cpu=False, extra=(), log=sys.stdout):
    common = [data_dir, "--user-dir", PLUGIN_DIR, "--path", checkpoint, "--log-format", "simple",
              "--num-workers", "0", *(["--cpu"] if cpu else [])]
    scores = {}
    if task == "language_modeling":
        tool = f"fairseq-eval-lm {' '.join(extra)}".strip()
        for split, (loss, perplexity, tokens, seconds) in eval_lm_in_process(common, splits, extra):
            scores[split] = SplitPerplexity(loss, perplexity, tokens, seconds)
    else:
        tool = f"fairseq-validate --task masked_lm {' '.join(extra)}".strip()
        print(f"==> fairseq-validate on {', '.join(splits)}", flush=True)
        # the task's data path is the checkpoint's unless overridden: the run may have moved
        overrides = repr({"data": data_dir})
        command = [sys.executable, "-m", "fairseq_cli.validate", *common, "--task", "masked_lm",
                   "--valid-subset", ",".join(splits), "--model-overrides", overrides, *extra]
        output, _ = _run("fairseq-validate", command, log)
        parsed = parse_validate(output)
        for split in splits:
            if split not in parsed:
                raise MacaronFairseqError(f"fairseq-validate printed no loss for {split}: see its output above")
            loss, perplexity = parsed[split]
            scores[split] = SplitPerplexity(loss, perplexity)
    return LanguageModelRecord(task, checkpoint, data_dir, tool, scores)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--data-dir", required=True, help="the binarized data (fairseq-preprocess --only-source)")
    parser.add_argument("--checkpoint-dir", required=True, help="the run: its checkpoint_best.pt is scored, and "
                        "the record goes to eval/lm_result.json in it")
    parser.add_argument("--checkpoint", help="score this checkpoint instead of checkpoint_best.pt")
    parser.add_argument("--splits", nargs="+", default=["valid", "test"])
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --: flags for fairseq-eval-lm/-validate")
    args = parser.parse_args(argv)
    args.extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    return args


def main(argv=None):
    args = parse_args(argv)
    checkpoint = args.checkpoint or os.path.join(args.checkpoint_dir, "checkpoint_best.pt")
    output = os.path.join(args.checkpoint_dir, RESULT_NAME)
    try:
        require_input_file(checkpoint, "--checkpoint" if args.checkpoint else None, "the checkpoint to score",
                           missing_fix="train the run first (scripts/train.sh)")
        require_writable_output(output, make_folder=True)
        for split in args.splits:
            if not os.path.isfile(os.path.join(args.data_dir, f"{split}.idx")):
                raise MacaronFairseqError(f"{args.data_dir} has no {split}.idx: pass the data the run was trained on "
                                          f"(scripts/prepare-lm.sh writes train, valid and test)")
        record = evaluate(args.task, os.path.abspath(args.data_dir), os.path.abspath(checkpoint), args.splits,
                          args.cpu, args.extra)
        record.write(output)
    except MacaronFairseqError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, split in record.splits.items():
        print(f"==> {name}: loss {split.loss:.4f} (base 2), perplexity {split.perplexity:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    run_command(main)
