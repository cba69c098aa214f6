"""The cross-domain view: the GraphQL query's shape, and paging and flattening against a GMS stand-in."""

from dataplatform_kit.catalog_view import LATEST_RESULTS_QUERY, LatestResult, latest_results
from graphql import FieldNode, OperationDefinitionNode, parse, print_ast
from standins import StandIn

SALES = "urn:li:dataset:(urn:li:dataPlatform:redshift,analytics.sales.orders_daily,PROD)"
MARKETING = "urn:li:dataset:(urn:li:dataPlatform:redshift,analytics.marketing.attribution,PROD)"


def page(total: int, *datasets: dict) -> dict:
    return {
        "data": {
            "searchAcrossEntities": {
                "start": 0,
                "count": len(datasets),
                "total": total,
                "searchResults": [{"entity": d} for d in datasets],
            }
        }
    }


def dataset(urn: str, domain: str | None, *assertions: tuple[str, str | None, int]) -> dict:
    return {
        "urn": urn,
        "name": urn.split(",")[1],
        "platform": {"name": "redshift"},
        "domain": {"domain": {"urn": domain, "properties": {"name": domain}}} if domain else None,
        "assertions": {
            "total": len(assertions),
            "assertions": [
                {
                    "urn": a,
                    "runEvents": {"runEvents": [{"timestampMillis": t, "result": {"type": r}}] if r else []},
                }
                for a, r, t in assertions
            ],
        },
    }


def selections(node, path: list[str]):
    for name in path:
        (node,) = [s for s in node.selection_set.selections if isinstance(s, FieldNode) and s.name.value == name]
    return node


def test_query_asks_for_every_datasets_domain_and_newest_completed_run_event() -> None:
    (operation,) = parse(LATEST_RESULTS_QUERY).definitions
    assert isinstance(operation, OperationDefinitionNode) and operation.operation.value == "query"
    search = selections(operation, ["searchAcrossEntities"])
    assert "types: [DATASET]" in print_ast(search) and 'query: "*"' in print_ast(search)
    runs = print_ast(search)
    assert "runEvents(status: COMPLETE, limit: 1)" in runs
    assert "domain {\n" in runs and "timestampMillis" in runs and "result {\n" in runs
    assert [v.variable.name.value for v in operation.variable_definitions] == ["start", "count"]


def test_pages_through_all_domains_and_keeps_the_newest_result_per_assertion(gms: StandIn) -> None:
    gms.replies = [
        page(
            3,
            dataset(
                SALES,
                "urn:li:domain:sales",
                ("urn:li:assertion:a", "FAILURE", 2000),
                ("urn:li:assertion:b", "SUCCESS", 2000),
            ),
        ),
        page(3, dataset(MARKETING, "urn:li:domain:marketing", ("urn:li:assertion:c", "SUCCESS", 1000))),
        page(3, dataset("urn:li:dataset:(urn:li:dataPlatform:s3,raw,PROD)", None, ("urn:li:assertion:d", None, 0))),
    ]

    results = latest_results(f"{gms.url}/api/graphql", "platform-token", page_size=1)

    assert results == [
        LatestResult("urn:li:domain:sales", SALES, "urn:li:assertion:a", "FAILURE", 2000),
        LatestResult("urn:li:domain:sales", SALES, "urn:li:assertion:b", "SUCCESS", 2000),
        LatestResult("urn:li:domain:marketing", MARKETING, "urn:li:assertion:c", "SUCCESS", 1000),
    ]
    assert [r.path for r in gms.requests] == ["/api/graphql"] * 3
    assert [r.body["variables"] for r in gms.requests] == [
        {"start": 0, "count": 1},
        {"start": 1, "count": 1},
        {"start": 2, "count": 1},
    ]
    assert {r.headers["Authorization"] for r in gms.requests} == {"Bearer platform-token"}
