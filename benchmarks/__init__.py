"""Scale runs behind `make bench`."""
