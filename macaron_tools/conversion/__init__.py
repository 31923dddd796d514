"""Converters from checkpoints written elsewhere to checkpoints of this plugin."""
