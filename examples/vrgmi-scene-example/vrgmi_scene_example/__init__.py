"""An example third-party vrgmi scene package (see README.md)."""
