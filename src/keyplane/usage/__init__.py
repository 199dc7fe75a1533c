"""Usage records, their daily rollups, and the views every surface reports from."""
