"""Tests of the teacher's records (livret): levels, gaps, hours, welding, continuity."""
