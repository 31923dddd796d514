"""Measurements of trained models: ``python -m macaron_tools.probe.splitting`` (the ODE view of a layer)."""
