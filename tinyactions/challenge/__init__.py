"""What the TinyActions challenge defines: the TinyVIRAT-v2 annotation schema and its 26 classes, the metric, the
answer file."""
