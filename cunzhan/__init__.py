"""What the kiosk and the township backend both use: the wire protocol and its statuses, the domain records, identity
checks and masking, booking codes, field encryption, i18n, file locations and the demo township.

Nothing here imports `kiosk`, `township` or Qt (tests/unit/test_layering.py)."""
