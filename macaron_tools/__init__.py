"""The tools around the plugin: data preparation (:mod:`macaron_tools.data`), scoring (:mod:`macaron_tools.scoring`),
training runs side by side and their records (:mod:`macaron_tools.runs`), the comparison reports
(:mod:`macaron_tools.reports`), the parameter table (:mod:`macaron_tools.parity`), checkpoint averaging and the
converter of the authors' checkpoints (:mod:`macaron_tools.conversion`).

Each is a command, ``python -m macaron_tools.<module>``. The tools import the plugin, :mod:`macaron_fairseq`; the
plugin imports none of them, so fairseq's ``--user-dir`` loads the models and fixes without them.
"""

import os

import macaron_fairseq

PLUGIN_DIR = os.path.dirname(os.path.abspath(macaron_fairseq.__file__))
"""The plugin's folder: what the tools pass to fairseq as ``--user-dir``."""
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository's root: paths inside it are written relative to it in reports and records, so that they hold no
machine's folders."""
