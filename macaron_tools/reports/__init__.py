"""The comparison reports of finished runs: Macaron against its baseline twin (translation, language models) and
the splitting schemes against each other, built on one core (:mod:`macaron_tools.reports.core`)."""
