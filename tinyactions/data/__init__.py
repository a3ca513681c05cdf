"""Data: video I/O and sampling, the prepared index checked against the videos, data balance, the generated demo
dataset."""
