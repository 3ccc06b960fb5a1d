"""Ferryman: a self-hosted update server for Tauri desktop apps."""

__version__ = "0.1.0"
