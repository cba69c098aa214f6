"""The AWS wing: the foundation (`AwsFoundation`) and the services it provisions for domains and the catalog.

Network, EKS cluster, external-dns, the lake (KMS key and buckets), Redshift Serverless, RDS PostgreSQL,
the domain and catalog IAM documents. Only `components/foundations.py` picks this wing; the shared
modules in `components/` see it through the `Foundation` protocol (`components/interfaces.py`).

Type tokens keep the module names of the flat layout (`dataplatform:domain_services:AwsDomainServices`):
they are part of every URN, so changing one would replace the resources below it.
"""
