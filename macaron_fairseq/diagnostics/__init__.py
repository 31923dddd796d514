"""Measurements of trained models: ``python -m macaron_fairseq.diagnostics.splitting`` (the ODE view of a layer)."""
