"""Scoring: every saved epoch's sigmoid scores on every split, the canary clips, a student's teacher scores."""
