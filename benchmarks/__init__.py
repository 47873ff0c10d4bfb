"""bayesstack's benchmarks: not part of the package (not in the wheel); run from a checkout.

``python -m benchmarks --help`` lists them; ``docs/performance.md`` has their tables.
"""
