"""The snapshot regeneration script (platformctl/pricing.py) on small excerpts in the AWS Price List
bulk offer-file format (tests/fixtures/pricing/)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from platformctl import pricing

FIXTURES = Path(__file__).parent / "fixtures" / "pricing"
REGION = "eu-west-1"


def offers() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in FIXTURES.glob("*.json")}


KEYS = [
    pricing.nat_hour(REGION),
    pricing.nat_gb(REGION),
    pricing.ec2_on_demand(REGION, "m7i.large"),
    pricing.ec2_on_demand(REGION, "m7i.xlarge"),
    pricing.ebs_gp3(REGION),
    pricing.ec2_spot("m7i.large"),
    pricing.s3_standard(REGION),
    pricing.kms_key(),
]
PREVIOUS = {
    "region": REGION,
    "publicationDate": "2026-01-01",
    "prices": {
        "kms-key-month": {
            "usd": "1.00",
            "unit": "Keys-Mo",
            "manual": True,
            "source": "https://aws.amazon.com/kms/pricing/",
            "published": "2026-03-14",
        }
    },
    "instanceTypes": {"m7i.large": {"vcpu": 2, "memoryGiB": 8, "maxPods": 29}},
}


def test_regenerate_reads_on_demand_rows_from_the_bulk_format() -> None:
    doc = pricing.regenerate(REGION, KEYS, offers(), PREVIOUS)
    prices, unsourced = doc["prices"], doc["unsourced"]
    nat = prices["nat-gateway-hour"]
    assert (nat["usd"], nat["unit"], nat["published"]) == ("0.048", "Hrs", "2026-09-25")
    assert nat["source"] == (
        "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/eu-west-1/index.json "
        "(sku NATHOURSSKU0001)"
    )
    assert prices["nat-gateway-gb"]["usd"] == "0.048"
    # Linux, shared tenancy, on-demand: not the Windows row, not the reserved term, not the capacity reservation.
    assert prices["ec2-m7i.large-hour"]["usd"] == "0.1" and "M7ILINUXSKU0001" in prices["ec2-m7i.large-hour"]["source"]
    assert prices["ebs-gp3-gb-month"]["usd"] == "0.09"
    # Tiered: the first tier (beginRange 0) only.
    assert (
        prices["s3-standard-gb-month"]["usd"] == "0.023" and prices["s3-standard-gb-month"]["published"] == "2026-09-21"
    )
    # Not in the file, Spot, manual: flagged with a reason, or carried over with its source.
    assert "no on-demand row matches" in unsourced["ec2-m7i.xlarge-hour"]["reason"]
    assert "Spot prices are not in the AWS Price List" in unsourced["ec2-m7i.large-spot-hour"]["reason"]
    assert prices["kms-key-month"] == PREVIOUS["prices"]["kms-key-month"]
    assert doc["publicationDate"] == "2026-09-25"
    assert doc["instanceTypes"] == PREVIOUS["instanceTypes"]
    # The result is a valid snapshot the estimate can load.
    snap = pricing.snapshot_from(doc, "regenerated.json")
    assert snap.prices["nat-gateway-hour"].usd == Decimal("0.048")


def test_two_matching_rows_with_different_prices_are_an_error_not_a_guess() -> None:
    loose = pricing.PriceKey("ec2-any-m7i.large", "AmazonEC2", (("usagetype", "EU-BoxUsage:m7i.large"),))
    with pytest.raises(pricing.PricingError, match=r"ec2-any-m7i.large: 2 on-demand rows match"):
        pricing.regenerate(REGION, [loose], offers(), None)


def test_a_manual_price_missing_from_the_previous_snapshot_is_flagged() -> None:
    doc = pricing.regenerate(REGION, [pricing.kms_key()], offers(), None)
    assert "kms-key-month" not in doc["prices"]
    assert "pricing page" in doc["unsourced"]["kms-key-month"]["reason"]


def test_the_script_writes_the_snapshot_from_an_offers_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "PRICING_DIR", tmp_path)
    monkeypatch.setattr(pricing, "wanted_keys", lambda stacks: KEYS)
    (tmp_path / f"{REGION}.json").write_text(json.dumps(PREVIOUS))
    assert pricing.main(["--region", REGION, "--offers-dir", str(FIXTURES)]) == 0
    written = json.loads((tmp_path / f"{REGION}.json").read_text())
    assert written["prices"]["nat-gateway-hour"]["usd"] == "0.048"
    assert written["prices"]["kms-key-month"]["source"] == "https://aws.amazon.com/kms/pricing/"


def test_an_unknown_region_prefix_names_the_fix() -> None:
    with pytest.raises(pricing.PricingError, match=r"USAGE_PREFIX in platformctl/pricing\.py"):
        pricing.nat_hour("ap-east-2")
