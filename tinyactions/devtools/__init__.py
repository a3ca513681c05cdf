"""Tools for the tests and benchmarks (the model-zoo networks, a process tree's peak memory); nothing in the
pipeline imports them."""
