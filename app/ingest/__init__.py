"""The ingest core: every input is recorded under its id and applied to the shop."""
