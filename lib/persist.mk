# Persistence and config-cache sources (snapshot files, text format,
# file watching, the snapmap command-line tool).
