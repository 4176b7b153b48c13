"""The township service-hall backend: sync API for kiosks, database, staff functions, command line.

See docs/sync.md for the protocol as implemented.
"""
