"""One view across domains: the latest quality result of every dataset in DataHub, with its domain.

`LATEST_RESULTS_QUERY` is a DataHub GraphQL query (POST <frontend or GMS>/api/graphql): every dataset
(all domains) with its domain, and for each of its assertions the newest completed run event (pass or
fail, and when). `latest_results` pages through it and flattens it to one row per assertion, newest
result only. docs/quality.md shows how to run it with curl and how to get the same view in the UI.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

LATEST_RESULTS_QUERY = """
query latestQualityResults($start: Int!, $count: Int!) {
  searchAcrossEntities(input: {types: [DATASET], query: "*", start: $start, count: $count}) {
    start
    count
    total
    searchResults {
      entity {
        urn
        ... on Dataset {
          name
          platform { name }
          domain { domain { urn properties { name } } }
          assertions(start: 0, count: 100) {
            total
            assertions {
              urn
              runEvents(status: COMPLETE, limit: 1) {
                runEvents {
                  timestampMillis
                  result { type }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class LatestResult:
    domain: str | None
    dataset: str
    assertion: str
    result: str  # SUCCESS | FAILURE | ERROR
    timestamp_millis: int


def rows(page: dict[str, Any]) -> list[LatestResult]:
    """Flatten one page of the query's `data` into rows; datasets without results give none."""
    out = []
    for hit in page["searchAcrossEntities"]["searchResults"]:
        entity = hit["entity"]
        domain = ((entity.get("domain") or {}).get("domain") or {}).get("urn")
        for assertion in (entity.get("assertions") or {}).get("assertions") or []:
            events = (assertion.get("runEvents") or {}).get("runEvents") or []
            if events:
                newest = events[0]
                out.append(
                    LatestResult(
                        domain, entity["urn"], assertion["urn"], newest["result"]["type"], newest["timestampMillis"]
                    )
                )
    return out


def latest_results(graphql_url: str, token: str, *, page_size: int = 100, timeout: float = 30) -> list[LatestResult]:
    """Run the query page by page against `graphql_url` (e.g. http://datahub-gms:8080/api/graphql)."""
    out: list[LatestResult] = []
    start = 0
    while True:
        body = json.dumps({"query": LATEST_RESULTS_QUERY, "variables": {"start": start, "count": page_size}}).encode()
        request = urllib.request.Request(
            graphql_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise RuntimeError(f"DataHub GraphQL errors: {answer['errors']}")
        page = answer["data"]
        out += rows(page)
        start += page_size
        if start >= page["searchAcrossEntities"]["total"]:
            return out
