"""Data: read, validate, prepare and simulate the grouped table an analysis starts from."""
