"""In-warehouse planning (`diff = "warehouse"`): the warehouse compares the model with a snapshot.

    warehouse: model rows -> key + source fingerprint in SQL (the dialect's MD5)
               FULL JOIN <schema>.snapshot (key, fingerprint of what was last acknowledged)
               -> only added / changed / removed rows (and NULL / duplicated keys) leave it
    syncer:    those rows go through the row path's rules (mapping, payload fingerprints, state)
    after run: acknowledged changes merged into the snapshot in one transaction

Local state stays the record of what was acknowledged; the snapshot is a cache of it. A marker
row (`snapshot_meta`: clean flag, last run, record count) tells a lagging or missing snapshot
apart; it is rebuilt from local state at the start of the next run (see `snapshot.heal`).
`dialects` holds the SQL per warehouse, `snapshot` the table and its upkeep, `differ` the diff,
`grants` the permission check `syncer check` runs.
"""
