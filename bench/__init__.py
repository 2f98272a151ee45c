"""Benchmarks: each measures Librarrarian side by side with a baseline in the same run, as ratios."""
