"""Benchmarks: they print numbers; they are not pass/fail tests (`make bench`)."""
