"""Deciding: from per-epoch scores to the submission rule (members, thresholds, post-processing), its honest
estimates and intervals, the bundle and the report."""
