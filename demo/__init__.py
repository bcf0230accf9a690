"""`make demo`: the whole workshop on one machine, run by honcho around the real processes.

Not part of the product: it prepares instance/ with the product's own commands, then runs
the same programs a school runs (gunicorn, a broker, the ingest worker) plus the
simulator. See demo/run.py.
"""
