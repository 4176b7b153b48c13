"""Sync with the township backend: protocol models, HTTP client, engine, credentials, enrolment. No Qt here."""
