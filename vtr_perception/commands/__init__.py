"""Subcommands of the `vtr-perception` CLI (see cli.py)."""
