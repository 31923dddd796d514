"""COMET (Rei et al. 2020) of detokenized hypotheses, from a local COMET model, when the user points at one.

No COMET model can be fetched here, so this is optional: ``--comet-model PATH`` names a checkpoint already on disk
(``.../checkpoints/model.ckpt`` of a downloaded COMET model) and needs the ``unbabel-comet`` package in the
project's environment. COMET loads its checkpoint through its own loader, not this plugin's weights-only one:
point it only at a model you trust. Without ``--comet-model`` nothing here runs, and reports say that COMET was not
computed.
"""

import os

from macaron_fairseq.errors import MacaronFairseqError


def load(path):
    if not os.path.isfile(path):
        what = "a folder" if os.path.isdir(path) else "not a file"
        raise MacaronFairseqError(
            f"--comet-model {path} is {what}: pass a local COMET checkpoint file (its checkpoints/model.ckpt)"
        )
    try:
        from comet import load_from_checkpoint
    except ImportError:
        raise MacaronFairseqError(
            "--comet-model needs the unbabel-comet package: .venv/bin/pip install unbabel-comet, or leave it out"
        ) from None
    return load_from_checkpoint(path)


def score(model, sources, hypotheses, references, batch_size=32):
    """System-level COMET of ``hypotheses``; all three lists in sentence order."""
    import torch

    data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references)]
    prediction = model.predict(data, batch_size=batch_size, gpus=1 if torch.cuda.is_available() else 0,
                               progress_bar=False)
    return float(prediction.system_score)
