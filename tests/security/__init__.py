"""Regression tests of the security review: one module per finding, each naming its promise."""
