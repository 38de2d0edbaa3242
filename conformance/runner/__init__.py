"""runner: how a run happens.

Profiles and seeds, the cells of a run (op x property x dtype), the one run function
(:func:`conformance.runner.session.run`, in process or in worker processes that survive
crashes and hangs), reproducer scripts, the replay corpus, expected deviations, and the
results with their versioned JSON schema.

May import: :mod:`conformance.spec`, :mod:`conformance.engines`, :mod:`conformance.checks`,
:mod:`conformance.errors`, and :mod:`conformance.report` to write a run's reports.
"""
