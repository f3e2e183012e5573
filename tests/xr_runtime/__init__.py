"""A scripted OpenXR runtime for tests (see README.md) and its Python harness."""
