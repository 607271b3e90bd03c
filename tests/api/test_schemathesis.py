"""Property-based tests of the whole API from its own OpenAPI document (schemathesis), over
a real server on SQLite and PostgreSQL: a bounded number of generated requests per
operation, plus the document's examples (which name a stored cluster ``prod``). No answer
may be a server error, and every answer must match what the document declares: status,
content type and schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import YAML, create_token, running_server, test_settings
from tests.api.manifests import SHOP_YAML, WEB_TO_DB_YAML
from tests.conftest import ThrowawayDatabases

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def served(
    request: pytest.FixtureRequest, throwaway_databases: ThrowawayDatabases
) -> Iterator[tuple[str, str]]:
    """A server of its own (generated requests delete things) with ``prod`` at 2 versions."""
    import httpx

    url = throwaway_databases.create(str(request.param))
    with running_server(test_settings(url)) as base_url:
        token = create_token(url, "fuzzer", "admin")
        headers = {"Authorization": f"Bearer {token}", **YAML}
        for text in (SHOP_YAML, SHOP_YAML + "---\n" + WEB_TO_DB_YAML):
            created = httpx.post(
                f"{base_url}/v1/clusters/prod/snapshots", content=text, headers=headers
            )
            assert created.status_code == 201, created.text
        yield base_url, token


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_every_answer_as_declared(
    served: tuple[str, str], mode: GenerationMode
) -> None:
    base_url, token = served
    document = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in document.get_all_operations()]
    assert len(operations) >= 16

    for operation in operations:
        strategies = [operation.as_strategy(generation_mode=mode)]
        if mode is GenerationMode.POSITIVE:  # the document's own examples, too
            strategies += document.get_strategies_from_examples(operation)

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            call()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters or body): positive mode covers it.
            assert mode is GenerationMode.NEGATIVE, operation.label
