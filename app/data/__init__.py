"""The school's data file (docs/contract.md section 2): import and export."""
