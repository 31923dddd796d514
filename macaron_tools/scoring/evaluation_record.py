"""The record of one evaluation, ``eval/result.json``: what was decoded, how, and every split's scores.

scripts/evaluate.sh writes it (``python -m macaron_tools.scoring.result``), the comparison report reads it.
Both go through these types, so the report reads fields and never parses strings such as sacreBLEU's signature.
"""

import dataclasses
import json
import typing
from typing import Dict, List, Optional

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.files import write_json


def mistyped_field(value, annotation, name):
    """(dotted name, value, what it should be) of the first field in ``value`` whose value has not the type its
    ``annotation`` gives (dataclasses, Optional, Dict, List, str, int, float, bool), or None when all have."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, annotation):
            return name, value, "a record of fields"
        hints = typing.get_type_hints(annotation)
        for field in dataclasses.fields(annotation):
            found = mistyped_field(getattr(value, field.name), hints[field.name],
                                   f"{name}.{field.name}" if name else field.name)
            if found:
                return found
        return None
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return mistyped_field(value, next(a for a in arguments if a is not type(None)), name)
    if origin is dict:
        if not isinstance(value, dict):
            return name, value, "an object"
        for key, item in value.items():
            found = mistyped_field(item, arguments[1], f"{name}.{key}")
            if found:
                return found
        return None
    if origin is list:
        if not isinstance(value, list):
            return name, value, "a list"
        for index, item in enumerate(value):
            found = mistyped_field(item, arguments[0], f"{name}[{index}]")
            if found:
                return found
        return None
    # JSON writes a float that happens to be whole without a fraction; a bool is no number in a record
    expected = {str: ("a string", (str,)), bool: ("true or false", (bool,)), int: ("a whole number", (int,)),
                float: ("a number", (int, float))}[annotation]
    if (isinstance(value, bool) and annotation is not bool) or not isinstance(value, expected[1]):
        return name, value, expected[0]
    return None


def require_field_types(record, path, fix):
    """Raises :class:`MacaronFairseqError` naming ``path`` and the field of ``record`` (a dataclass read from it)
    whose value has not the type its annotation gives, so that a damaged record is refused as it is read, not met
    as a traceback in the middle of a report."""
    found = mistyped_field(record, type(record), "")
    if found:
        field, value, expected = found
        shown = json.dumps(value, ensure_ascii=False, default=str)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise MacaronFairseqError(f"{path}: {field} is {shown}, not {expected}: {fix}")


@dataclasses.dataclass
class SplitScores:
    hypotheses: int
    sacrebleu: float
    sacrebleu_signature: str
    chrf: float
    chrf_signature: str
    tokenized_bleu: float
    tokenized_bleu_variant: str  # "lowercase" or "compound-split", see bleu.py
    lowercase: bool  # sacreBLEU and chrF ignored case (a system trained on lowercased text)
    references: Dict[str, Optional[str]]  # {"detok": FILE, "tok": FILE}; detok None: the log's own T- lines
    decode_seconds: Optional[float] = None
    sentences_per_second: Optional[float] = None
    generated_tokens: Optional[int] = None
    tokens_per_second: Optional[float] = None  # generated (subword) tokens per second, beam search included
    comet: Optional[float] = None
    comet_model: Optional[str] = None


@dataclasses.dataclass
class Decoding:
    beam: int
    lenpen: float
    max_len_a: float
    max_len_b: int


@dataclasses.dataclass
class EvaluationRecord:
    setting: str
    source_lang: str
    target_lang: str
    checkpoint: str
    averaged: Optional[List[str]]  # the checkpoints averaged into ``checkpoint``, newest first
    data_dir: str
    decoding: Decoding
    primary_split: str
    splits: Dict[str, SplitScores]

    @property
    def primary(self) -> SplitScores:
        return self.splits[self.primary_split]

    def write(self, path):
        write_json(path, dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, fields):
        fields = dict(fields)
        fields["decoding"] = Decoding(**fields["decoding"])
        fields["splits"] = {name: SplitScores(**scores) for name, scores in fields["splits"].items()}
        return cls(**fields)

    @classmethod
    def read(cls, path):
        again = "evaluate the run again (scripts/evaluate.sh)"
        try:
            with open(path, encoding="utf-8") as f:
                record = cls.from_dict(json.load(f))
        except FileNotFoundError:
            raise MacaronFairseqError(f"{path} does not exist: evaluate the run first (scripts/evaluate.sh)") from None
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise MacaronFairseqError(
                f"{path} is not an evaluation record of this version ({type(error).__name__}: {error}): {again}"
            ) from None
        except OSError as error:
            raise MacaronFairseqError(f"cannot read {path} ({error.strerror}): {again}") from None
        require_field_types(record, path, again)
        if record.primary_split not in record.splits:
            raise MacaronFairseqError(f"{path}: primary_split {json.dumps(record.primary_split)} is none of its "
                                      f"splits: {again}")
        return record
