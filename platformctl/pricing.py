"""Price snapshots: `pricing/<region>.json`, and the script that regenerates one from the AWS Price List.

The snapshot holds only the SKUs the program uses, each with its price, unit, the offer file (or
page) it comes from and that source's publication date. Prices AWS does not publish in the Price
List (Spot) or that could not be sourced sit under `unsourced` with the reason; the estimate flags
them and leaves them out of its totals.

Regenerate (a maintainer or a scheduled CI job; it needs network, no credentials):

    python -m platformctl.pricing --region eu-west-1            # downloads the current offer files
    python -m platformctl.pricing --region eu-west-1 --offers-dir DIR   # or reads <DIR>/<service>.json

It parses the bulk offer-file format (`products` with `attributes`, `terms.OnDemand` with
`priceDimensions`), keeps the rows matching `wanted_keys()`, and carries over the entries marked
`manual` (prices AWS publishes only on its pricing pages, such as KMS keys).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRICING_DIR = PROJECT_DIR / "pricing"
OFFERS_HOST = "https://pricing.us-east-1.amazonaws.com"
# The usagetype prefix of each region in the offer files; eu-west-1 is the odd "EU".
USAGE_PREFIX = {"eu-west-1": "EU", "eu-central-1": "EUC1", "eu-west-2": "EUW2", "us-east-2": "USE2"}
HOURS_PER_MONTH = Decimal(730)


class PricingError(Exception):
    """A snapshot or offer file that cannot be used, with the file and the reason."""


@dataclass(frozen=True)
class PriceKey:
    """One SKU the program uses: the offer file's service code and the product attributes that select it."""

    id: str
    service: str
    attributes: tuple[tuple[str, str], ...]
    note: str = ""

    def matches(self, product_attributes: Mapping[str, Any]) -> bool:
        return all(product_attributes.get(k) == v for k, v in self.attributes)


def prefix(region: str) -> str:
    try:
        return USAGE_PREFIX[region]
    except KeyError:
        raise PricingError(
            f"region {region}: its Price List usagetype prefix is unknown; add it to USAGE_PREFIX in "
            "platformctl/pricing.py (it is the part before '-' in the usagetypes of that region's offer files)"
        ) from None


def _key(id_: str, service: str, note: str = "", **attributes: str) -> PriceKey:
    return PriceKey(id_, service, tuple(sorted(attributes.items())), note)


def eks_cluster(region: str) -> PriceKey:
    return _key("eks-cluster-hour", "AmazonEKS", usagetype=f"{prefix(region)}-AmazonEKS-Hours:perCluster")


def ec2_on_demand(region: str, instance_type: str) -> PriceKey:
    return _key(
        f"ec2-{instance_type}-hour",
        "AmazonEC2",
        usagetype=f"{prefix(region)}-BoxUsage:{instance_type}",
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
    )


def ec2_spot(instance_type: str) -> PriceKey:
    # Spot prices move with supply and demand and are not in the Price List at all.
    return _key(f"ec2-{instance_type}-spot-hour", "AmazonEC2", note="spot", marketoption="Spot")


def ebs_gp3(region: str) -> PriceKey:
    return _key("ebs-gp3-gb-month", "AmazonEC2", usagetype=f"{prefix(region)}-EBS:VolumeUsage.gp3")


def nat_hour(region: str) -> PriceKey:
    return _key("nat-gateway-hour", "AmazonEC2", usagetype=f"{prefix(region)}-NatGateway-Hours")


def nat_gb(region: str) -> PriceKey:
    return _key("nat-gateway-gb", "AmazonEC2", usagetype=f"{prefix(region)}-NatGateway-Bytes")


def alb_hour(region: str) -> PriceKey:
    return _key("alb-hour", "AWSELB", usagetype=f"{prefix(region)}-LoadBalancerUsage")


def alb_lcu(region: str) -> PriceKey:
    return _key("alb-lcu-hour", "AWSELB", usagetype=f"{prefix(region)}-LCUUsage")


def rds_instance(region: str, instance_class: str, multi_az: bool) -> PriceKey:
    usage = "Multi-AZUsage" if multi_az else "InstanceUsage"
    return _key(
        f"rds-postgres-{instance_class}-{'multi-az' if multi_az else 'single-az'}-hour",
        "AmazonRDS",
        usagetype=f"{prefix(region)}-{usage}:{instance_class}",
        databaseEngine="PostgreSQL",
    )


def rds_gp3(region: str, multi_az: bool) -> PriceKey:
    storage = "Multi-AZ-GP3-Storage" if multi_az else "GP3-Storage"
    return _key(
        f"rds-gp3-{'multi-az' if multi_az else 'single-az'}-gb-month",
        "AmazonRDS",
        usagetype=f"{prefix(region)}-RDS:{storage}",
    )


def rds_backup(region: str) -> PriceKey:
    return _key("rds-backup-gb-month", "AmazonRDS", usagetype=f"{prefix(region)}-RDS:ChargedBackupUsage")


def redshift_rpu(region: str) -> PriceKey:
    return _key(
        "redshift-serverless-rpu-hour", "AmazonRedshift", usagetype=f"{prefix(region)}-Redshift:ServerlessUsage"
    )


def s3_standard(region: str) -> PriceKey:
    return _key("s3-standard-gb-month", "AmazonS3", usagetype=f"{prefix(region)}-TimedStorage-ByteHrs")


def kms_key() -> PriceKey:
    # AWS publishes the key price on its KMS pricing page; the snapshot marks it `manual`.
    return _key("kms-key-month", "awskms", note="manual")


def logs_ingestion(region: str) -> PriceKey:
    return _key("cloudwatch-logs-ingestion-gb", "AmazonCloudWatch", usagetype=f"{prefix(region)}-DataProcessing-Bytes")


# ---------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class Price:
    usd: Decimal
    unit: str
    source: str
    published: str


@dataclass
class Snapshot:
    region: str
    publication_date: str
    prices: dict[str, Price]
    unsourced: dict[str, str]
    instance_types: dict[str, dict[str, Any]]
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def price(self, key: PriceKey) -> Price | None:
        return self.prices.get(key.id)

    def why_missing(self, key: PriceKey) -> str:
        if key.note == "spot":
            return "Spot prices are not in the AWS Price List (they move with supply and demand)"
        return self.unsourced.get(
            key.id, f"not in the snapshot {self.path}; regenerate it (python -m platformctl.pricing)"
        )


def snapshot_from(doc: dict[str, Any], where: str) -> Snapshot:
    """Validate a snapshot document: every price has a decimal value, a unit, a source and a date."""
    problems: list[str] = []
    prices: dict[str, Price] = {}
    for key, entry in (doc.get("prices") or {}).items():
        missing = [f for f in ("usd", "unit", "source", "published") if not entry.get(f)]
        if missing:
            problems.append(f"{where}: prices.{key}: missing {', '.join(missing)}")
            continue
        prices[key] = Price(Decimal(str(entry["usd"])), entry["unit"], entry["source"], entry["published"])
    unsourced = {k: str(v.get("reason", "")) for k, v in (doc.get("unsourced") or {}).items()}
    problems += [f"{where}: unsourced.{k}: missing reason" for k, v in unsourced.items() if not v]
    for field_ in ("region", "publicationDate"):
        if not doc.get(field_):
            problems.append(f"{where}: missing {field_}")
    if problems:
        raise PricingError("\n".join(problems))
    return Snapshot(
        region=doc["region"],
        publication_date=doc["publicationDate"],
        prices=prices,
        unsourced=unsourced,
        instance_types=doc.get("instanceTypes") or {},
        path=where,
        raw=doc,
    )


def load_snapshot(region: str, directory: Path = PRICING_DIR) -> Snapshot:
    path = directory / f"{region}.json"
    if not path.is_file():
        raise PricingError(
            f"no price snapshot {path.relative_to(PROJECT_DIR) if path.is_relative_to(PROJECT_DIR) else path} "
            f"for region {region}; create it with python -m platformctl.pricing --region {region}"
        )
    return snapshot_from(json.loads(path.read_text()), path.name)


# ---------------------------------------------------------------- regeneration from the bulk offer files


@dataclass(frozen=True)
class OfferRow:
    sku: str
    usd: Decimal
    unit: str
    description: str


def on_demand_rows(offer: dict[str, Any], key: PriceKey) -> list[OfferRow]:
    """The on-demand price dimensions of the products matching `key` in one bulk offer file.

    Tiered prices (S3) keep only the first tier (beginRange 0), which is what the estimate uses.
    """
    rows: list[OfferRow] = []
    on_demand = (offer.get("terms") or {}).get("OnDemand") or {}
    for sku, product in (offer.get("products") or {}).items():
        if not key.matches(product.get("attributes") or {}):
            continue
        for term in (on_demand.get(sku) or {}).values():
            for dim in (term.get("priceDimensions") or {}).values():
                if str(dim.get("beginRange", "0")) not in ("0", "0.0"):
                    continue
                usd = (dim.get("pricePerUnit") or {}).get("USD")
                if usd is None:
                    continue
                rows.append(OfferRow(sku, Decimal(usd), str(dim.get("unit", "")), str(dim.get("description", ""))))
    return rows


def extract(offer: dict[str, Any], keys: Iterable[PriceKey], source_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(prices, unsourced) for `keys` from one service's offer file; ambiguity is an error, not a guess."""
    prices: dict[str, Any] = {}
    unsourced: dict[str, Any] = {}
    published = str(offer.get("publicationDate", ""))
    for key in keys:
        rows = on_demand_rows(offer, key) if not key.note else []
        distinct = {(r.usd, r.unit) for r in rows}
        if len(distinct) > 1:
            found = ", ".join(f"{r.sku} {r.usd}/{r.unit}" for r in rows)
            raise PricingError(
                f"{key.id}: {len(rows)} on-demand rows match {dict(key.attributes)} ({found}); narrow the key"
            )
        if not rows:
            unsourced[key.id] = {
                "service": key.service,
                "attributes": dict(key.attributes),
                "reason": f"no on-demand row matches {dict(key.attributes)} in {source_url}",
            }
            continue
        row = rows[0]
        prices[key.id] = {
            "usd": str(row.usd.normalize()),
            "unit": row.unit,
            "service": key.service,
            "attributes": dict(key.attributes),
            "description": row.description,
            "source": f"{source_url} (sku {row.sku})",
            "published": published[:10],
        }
    return prices, unsourced


def _download(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=300) as response:
        return json.loads(response.read())


def offer_url(service: str, region: str) -> str:
    return f"{OFFERS_HOST}/offers/v1.0/aws/{service}/current/{region}/index.json"


def regenerate(
    region: str, keys: Iterable[PriceKey], offers: Mapping[str, dict[str, Any]], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """A new snapshot document from `offers` (service code -> offer file) for `keys`."""
    by_service: dict[str, list[PriceKey]] = {}
    for key in keys:
        by_service.setdefault(key.service, []).append(key)
    prices: dict[str, Any] = {}
    unsourced: dict[str, Any] = {}
    dates: list[str] = []
    old_prices = (previous or {}).get("prices") or {}
    for service, service_keys in sorted(by_service.items()):
        manual = [k for k in service_keys if k.note == "manual"]
        for key in manual:
            if key.id in old_prices:
                prices[key.id] = old_prices[key.id]
            else:
                unsourced[key.id] = {
                    "service": service,
                    "reason": "published on an AWS pricing page only; add it by hand",
                }
        for key in (k for k in service_keys if k.note == "spot"):
            unsourced[key.id] = {"service": service, "reason": "Spot prices are not in the AWS Price List"}
        priced = [k for k in service_keys if not k.note]
        if not priced:
            continue
        if service not in offers:
            raise PricingError(f"no offer file for {service} ({offer_url(service, region)})")
        got, missing = extract(offers[service], priced, offer_url(service, region))
        prices.update(got)
        unsourced.update(missing)
        dates.append(str(offers[service].get("publicationDate", ""))[:10])
    return {
        "region": region,
        "currency": "USD",
        "publicationDate": max(dates) if dates else (previous or {}).get("publicationDate", ""),
        "note": "Regenerated by python -m platformctl.pricing from the AWS Price List bulk offer files.",
        "prices": dict(sorted(prices.items())),
        "unsourced": dict(sorted(unsourced.items())),
        "instanceTypes": (previous or {}).get("instanceTypes", {}),
    }


def wanted_keys(stacks: Iterable[str] = ("dev", "prod")) -> list[PriceKey]:
    """Every SKU the program's AWS stacks use, from their mocked runs (the offline plan's run)."""
    from platformctl import cost  # lazy: runs the program
    from platformctl.simulate import run_program

    keys: dict[str, PriceKey] = {}
    for stack in stacks:
        for key in cost.price_keys(run_program(stack)):
            keys[key.id] = key
    return sorted(keys.values(), key=lambda k: k.id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.pricing",
        description="Regenerate pricing/<region>.json from the AWS Price List bulk offer files.",
    )
    parser.add_argument("--region", required=True)
    parser.add_argument("--offers-dir", help="read <dir>/<ServiceCode>.json instead of downloading")
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    args = parser.parse_args(argv)
    keys = wanted_keys(args.stacks)
    services = sorted({k.service for k in keys if not k.note})
    offers: dict[str, dict[str, Any]] = {}
    for service in services:
        if args.offers_dir:
            offers[service] = json.loads((Path(args.offers_dir) / f"{service}.json").read_text())
        else:
            print(f"downloading {offer_url(service, args.region)}", file=sys.stderr)
            offers[service] = _download(offer_url(service, args.region))
    path = PRICING_DIR / f"{args.region}.json"
    previous = json.loads(path.read_text()) if path.is_file() else None
    doc = regenerate(args.region, keys, offers, previous)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}: {len(doc['prices'])} prices, {len(doc['unsourced'])} unsourced", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
