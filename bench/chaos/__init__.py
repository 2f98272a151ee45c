"""Chaos harness (``make chaos``): the real cluster (``librarrarian up``) on a temporary library of real clips,
faults injected at seeded random moments, invariants checked after every run, and a table of what was seen.

- :mod:`schedule` which fault when (pure, seeded: a failure is replayed with the same ``--seed``);
- :mod:`cluster` starts, finds the processes of, and stops one ``up``;
- :mod:`faults` each fault as a function;
- :mod:`invariants` the checks (pure, on snapshots taken after the run);
- :mod:`runner` one run: a batch of files, one fault, recovery, snapshot, checks;
- :mod:`report` the table (pure), printed and saved in ``bench/out/chaos.json`` and ``chaos.txt``.
"""
