"""The forkserver's last preload (runner/processes.py): importing it freezes the garbage collector's view
of everything imported before it (torch, the harness).

Frozen objects are never traversed by a collection again.  Workers forked from the forkserver inherit
that: their full collections walked torch's ~180,000 objects each time (0.3 s of a ``quick`` worker's
11 s), and the forkserver's own exit, after the run's, spent ~0.7 s collecting them, which a pipeline
(``conformance run | tee log``, a CI log) waited for.  Nothing else should import this module: it
freezes the importing process's heap as it is.
"""
import gc

gc.freeze()
