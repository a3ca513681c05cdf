"""The names of the per-class threshold rules (``thresholds.strategy``) and of what the f1 rule shrinks rare
classes towards: the settings schema offers them, ``tinyactions.decide.thresholds`` fits them. Kept apart
from the fitting so that the schema, which every stage reads, does not depend on it."""

STRATEGIES = ("fixed", "f1", "frequency", "frequency_set")  # the per-class threshold rules (thresholds.strategy)
SHRINK_TARGETS = ("pooled", "prior")  # what the f1 rule shrinks rare classes towards
