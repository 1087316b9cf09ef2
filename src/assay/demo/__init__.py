"""The demo instance's data, generated (small, deterministic, written for assay)."""
