"""The static web UI: a private S3 bucket behind CloudFront (origin access control), plus ``config.json``."""

from __future__ import annotations

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


class WebSite(Construct):
    """The UI bucket (private, encrypted, TLS only) served by a CloudFront distribution over HTTPS only."""

    def __init__(self, scope: Construct, construct_id: str, *, log_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="web-bucket/",
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
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
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
