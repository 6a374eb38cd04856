"""The ``cutover`` command line."""
