"""Why a checkpoint was not converted; each message is one line that names the file and the cause."""

from macaron_fairseq.errors import MacaronFairseqError


class ConversionError(MacaronFairseqError):
    """A checkpoint that cannot be converted, or an output that must not be written."""


class NotAnOfficialCheckpoint(ConversionError):
    """The file is not a checkpoint of the authors' fairseq v0.6 fork."""


class NotAMacaronCheckpoint(ConversionError):
    """The file is a fairseq v0.6 checkpoint, but of a model without Macaron layers."""


class ShapeMismatch(ConversionError):
    """The weights do not fit the architecture their checkpoint names."""
