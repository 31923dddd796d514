"""The splitting probe's JSON writer (:mod:`macaron_fairseq.diagnostics.splitting` imports it from here): the
tools' own, :func:`macaron_tools.files.write_json`. Neither fairseq's ``--user-dir`` nor any module of the plugin
loads this folder."""

from macaron_tools.files import write_json  # noqa: F401
