"""The sync API under schemathesis, from the backend's own OpenAPI document (`/openapi.json`), against a real
backend (uvicorn on 127.0.0.1) on SQLite and PostgreSQL: whatever schemathesis sends (bodies and parameters that
match the schema, and ones that do not; with an enrolled kiosk's token and without), the answer is never a server
error. Deterministic (hypothesis derandomized, no example database) and bounded (EXAMPLES per operation and mode),
so it runs in `make test` well under a minute."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

EXAMPLES = 40
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_the_sync_api_gives_no_server_errors(any_backend: Any, mode: schemathesis.GenerationMode) -> None:
    kiosk = any_backend.enroll("模糊测试")
    schema = schemathesis.openapi.from_url(any_backend.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/health", "/v1/enroll", "/v1/sync/push", "/v1/sync/pull"}
    errors: list[str] = []
    calls = 0
    nothing_to_break: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal calls
            headers = dict(case.headers or {})
            if calls % 4:  # most calls as the enrolled kiosk (so push and pull get past the token check)
                headers.setdefault("Authorization", kiosk.headers["Authorization"])
            calls += 1
            response = case.call(base_url=any_backend.url, headers=headers, timeout=30)
            if response.status_code >= 500:
                errors.append(
                    f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:200]}"
                )

        try:
            run()
        except Unsatisfiable:  # no parameters and no body: no invalid request to make (GET /v1/health)
            nothing_to_break.append(operation.path)
    assert nothing_to_break in ([], ["/v1/health"])
    assert calls >= len(operations) * 5
    assert not errors, "\n".join(errors[:10])
