"""Foundations every phase uses: paths, atomic file writes, file names from elsewhere, checkpoint files read as
data, numeric precision, upstream compat, progress reporting."""
