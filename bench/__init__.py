"""Speed benchmarks of the archlab harness (``make bench``; ``python -m bench --help``).

Modules: ``trainer`` (fit against a bare loop and against a conventional DataLoader loop), ``sweep`` (runs per
hour one at a time, on Ray and batched), ``packing`` (an architecture's seeds per second packed into one network
and under vmap against one at a time), ``project`` (paper-profile times projected from the measured throughput),
``common`` (sizes, data, timers). Every ratio compares two things measured in the same run.
"""
