"""The school's data file (CONTRACT.md section 2): import and export."""
