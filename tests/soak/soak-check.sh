#!/bin/sh
# A short soak for `make check` under ThreadSanitizer (see tests/local.mk).
exec ./tests/soak/soak --seconds "${SOAK_CHECK_SECONDS:-20}"
