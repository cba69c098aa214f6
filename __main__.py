"""The data platform: validated config, then the foundation, then one DataDomainStack per domain."""

import pulumi
import pulumi_aws as aws

from components.config import load_stack_config

config = load_stack_config()
provider = aws.Provider(
    "aws", aws.ProviderArgs(region=config.region, default_tags=aws.ProviderDefaultTagsArgs(tags=config.common_tags))
)
bucket = aws.s3.Bucket("probe", opts=pulumi.ResourceOptions(provider=provider, protect=True))
pulumi.export("bucket", bucket.bucket)
