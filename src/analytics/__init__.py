"""Counting installs without tracking them: keyed daily tokens and cardinality sketches."""
