"""The API's contract is its OpenAPI document: schemathesis fuzzes every operation of a live
``kb serve`` from that document and checks that no request gets a 5xx, every response matches
its declared schema and status codes, requests the schema forbids are refused, and requests it
allows are not refused for their shape.

The server runs on its own data directory (the fuzzer writes to it). Its accepted-status lists
include the rejections the schema cannot express: a since after an until (400), a page that holds
no article (422), a body over the size limit (413). Requests that would fetch URLs are left out:
this machine has no network, and fetching is tested against local servers in test_fetch.py.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from conftest import LiveServer, copy_model_into, serving
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api.openapi import openapi_document

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["200", "400", "401", "403", "404", "413", "422"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "413", "415", "422"]
"""


@pytest.fixture(scope="module")
def contract_server(
    model_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``kb serve`` with a token over an empty data directory of its own."""
    work = tmp_path_factory.mktemp("contract-server")
    data_dir = work / "data"
    copy_model_into(model_data_dir, data_dir)
    with serving(data_dir, work / "server.log", {"KB_NO_SAMPLE": "1"}) as server:
        yield server


# The document the server serves, built in process so the operations are known at collection;
# a test below checks the live server serves exactly this document.
DOCUMENT = openapi_document("/")
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_str(CONFIG))


def test_the_server_serves_the_document_fuzzed(contract_server: LiveServer) -> None:
    with urllib.request.urlopen(f"{contract_server.base_url}/api/openapi.json") as response:
        assert json.loads(response.read()) == DOCUMENT


def fetches_urls(case: schemathesis.Case) -> bool:
    """Whether the request asks the server to fetch URLs."""
    body = case.body if isinstance(case.body, dict) else {}
    return case.path in ("/api/extract", "/api/ingest") and ("url" in body or "urls" in body)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_documented_contract(
    case: schemathesis.Case, contract_server: LiveServer
) -> None:
    if fetches_urls(case):
        return
    case.call_and_validate(
        base_url=contract_server.base_url,
        headers={"Authorization": f"Bearer {contract_server.token}"},
        timeout=60,
    )
