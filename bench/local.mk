# Bench suite: `make bench` (never part of `make check`).
