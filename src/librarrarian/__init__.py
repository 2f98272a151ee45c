"""Librarrarian: the command line, the embedded default and its supervisor."""
