"""In-warehouse planning (`diff = "warehouse"`): the warehouse compares the model with a snapshot.

    warehouse: model rows -> key + source fingerprint in SQL (a 64-bit row hash, or MD5)
               FULL JOIN <schema>.snapshot (key, fingerprint of what was last acknowledged)
               -> only added / changed / removed rows (and NULL / problem keys) leave it
    syncer:    those rows go through the row path's rules (mapping, payload fingerprints, state)
    after run: the keys it noted as pending replayed from state in set-based statements

Local state stays the record of what was acknowledged; the snapshot is a cache of it. A marker
row (`snapshot_marker`: last run merged, run that may have changed state since) and the keys state
notes as pending during a run tell a lagging or missing snapshot apart; the next run replays only
the lagging keys, or rebuilds a missing one from local state (see `snapshot.decide`).
`dialects` holds the SQL per warehouse, `snapshot` the table and its upkeep, `differ` the diff,
`grants` the permission check `syncer check` runs.
"""
