"""Columnar diff: the model as Arrow record batches, compared with state a batch at a time.

    warehouse --Arrow batches--> keys + source fingerprints (vectorised, per batch)
              --> state for the batch's keys, as columns --> unchanged rows counted, never touched
              --> only added / changed rows materialised as dicts and mapped (the row path's rules)
              --> removed records: 8-byte key hashes, compared with state after the stream

`batches` reads the model (DuckDB, Snowflake and PostgreSQL natively; anything else through
SQLAlchemy rows turned into columns), `kernels` computes keys and fingerprints, `differ` is the
diff itself. It yields the same `Change`s, counts and rejected rows as `syncer.diff.Differ`; the
property test in tests/engine/test_diff_modes.py holds the two to that.
"""
