"""Where a run executes. ``local``: a run supervisor process per run on this machine (the
only backend today; a Dask cluster backend comes with issue 12)."""
