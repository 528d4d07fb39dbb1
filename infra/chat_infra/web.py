"""The static web UI: a private S3 bucket behind CloudFront (origin access control), plus ``config.json``."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.chat_infra.nag import acknowledge
from infra.chat_infra.paths import WEB_DIR


class AccessLogBucket(Construct):
    """Where S3 server access logs, CloudFront access logs and VPC flow logs go (kept 90 days).

    CloudFront's standard logging writes with ACLs, hence object-writer ownership. The bucket is retained
    on teardown: logs outlive the stack on purpose.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.RETAIN,
        )


def private_bucket(
    scope: Construct, construct_id: str, *, access_log_bucket: s3.IBucket, log_prefix: str, **options: Any
) -> s3.Bucket:
    """A bucket as every bucket of ours but the log bucket is: encrypted, no public access, TLS only, owned
    by the bucket owner (no ACLs), its server access logs under ``log_prefix`` in ``access_log_bucket``."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_log_bucket,
        server_access_logs_prefix=log_prefix,
        **options,
    )


#: The regions every account has without opting in. CloudFront's standard logging (legacy), the kind a
#: distribution's Logging setting turns on, delivers to buckets in these only: AWS documents that it cannot
#: write to a bucket in an opt-in region (af-south-1, ap-east-1, eu-south-1, me-south-1 and every region
#: launched since 2019), so the stack, whose log bucket is in its own region, checks at synth.
REGIONS_WITH_CLOUDFRONT_LOGGING = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
    }
)


#: Regions of the other partitions (China, GovCloud, ISO) are not judged here.
_OTHER_PARTITIONS = ("cn-", "us-gov-", "us-iso")


def cloudfront_can_log_to(region: str) -> bool:
    """False for an opt-in region of the aws partition, where CloudFront standard logging cannot deliver."""
    return region.startswith(_OTHER_PARTITIONS) or region in REGIONS_WITH_CLOUDFRONT_LOGGING


class WebSite(Construct):
    """The UI bucket (private, encrypted, TLS only) served by a CloudFront distribution over HTTPS only.

    The bucket's server access logs go to ``access_log_bucket``, and so do the distribution's standard logs
    when ``cloudfront_logging`` (otherwise the distribution logs nothing).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, access_log_bucket: s3.IBucket, cloudfront_logging: bool = True
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            access_log_bucket=access_log_bucket,
            log_prefix="web-bucket/",
            # Everything in it is rebuilt from web/ on each deploy.
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="chat web UI",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            log_bucket=access_log_bucket if cloudfront_logging else None,
            log_file_prefix="cloudfront/" if cloudfront_logging else None,
        )
        if not cloudfront_logging:
            acknowledge(
                self.distribution,
                "AwsSolutions-CFR3",
                "CloudFront standard logging was turned off with context cloudFrontLogging=false, which the "
                "README prescribes for opt-in regions, where CloudFront cannot deliver logs to the stack's bucket.",
            )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "A chat for a team anywhere: no country is excluded. Add a geo restriction here if the "
            "deployment must serve only some countries.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "The distribution serves static files only (GET/HEAD from a private bucket); the APIs are not "
            "behind it. A WAF web ACL (from about 5 USD a month) is left to deployments that need one.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose "
            "security policy cannot be raised; TLSv1.2_2021 applies once a domain and ACM certificate are added.",
        )

    @property
    def url(self) -> str:
        """``https://<id>.cloudfront.net`` (no trailing slash): the web origin."""
        return f"https://{self.distribution.distribution_domain_name}"

    def deploy(self, *, api_url: str, ws_url: str) -> s3deploy.BucketDeployment:
        """Upload ``web/`` and a ``config.json`` with the deployed API URLs, then invalidate the cache."""
        return s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[
                s3deploy.Source.asset(str(WEB_DIR), exclude=["config.json", ".DS_Store"]),
                s3deploy.Source.json_data("config.json", {"apiUrl": api_url, "wsUrl": ws_url}),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
        )
