"""Tools for the tests and benchmarks (the model-zoo networks, a process tree's peak memory, a tiny
TinyVIRAT-v2 root); nothing in the pipeline imports them."""
