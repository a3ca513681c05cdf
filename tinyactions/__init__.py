"""tinyactions: low-resolution video action recognition on TinyVIRAT-v2 (see README.md)."""
