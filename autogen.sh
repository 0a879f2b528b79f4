#!/bin/sh
# Regenerate the build system (same as `autoreconf -fi`).
set -e
cd "$(dirname "$0")"
exec autoreconf -fi
