"""The attachment bucket: files uploaded from browsers by presigned POST, downloaded by presigned GET."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from chatcore.aws.files import PENDING, STATE_TAG
from chatcore.service.attachments import object_key
from constructs import Construct

from infra.chat_infra.web import private_bucket

#: Every object the chat writes is under this prefix (``rooms/<room id>/<attachment id>``).
OBJECT_PREFIX = object_key(0, "x").split("/", 1)[0] + "/"
#: A file announced but never sent in a message expires this long after its upload.
ABANDONED_AFTER = Duration.days(1)


class AttachmentBucket(Construct):
    """Private (all public access blocked, bucket-owner objects), encrypted, TLS only, access-logged.

    CORS lets the web origins POST uploads and GET files. The lifecycle rule expires objects still tagged
    ``state=pending`` (uploaded, never sent: sending retags them ``state=sent``) and aborts incomplete
    multipart uploads. The bucket is retained on teardown: it holds what users sent.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, web_origins: Sequence[str], access_log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            access_log_bucket=access_log_bucket,
            log_prefix="attachments-bucket/",
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(web_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3600,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-abandoned-uploads",
                    prefix=OBJECT_PREFIX,
                    tag_filters={STATE_TAG: PENDING},
                    expiration=ABANDONED_AFTER,
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def grant_signing(self, role: iam.IRole) -> None:
        """The REST function signs uploads (PutObject with its tagging) and downloads (GetObject)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"],
                resources=[self.bucket.arn_for_objects(OBJECT_PREFIX + "*")],
            )
        )

    def grant_sending(self, role: iam.IRole) -> None:
        """The message function retags sent files and deletes a deleted message's files; ListBucket (on the
        prefix) makes a file never uploaded answer NoSuchKey rather than AccessDenied."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObjectTagging", "s3:DeleteObject"],
                resources=[self.bucket.arn_for_objects(OBJECT_PREFIX + "*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [OBJECT_PREFIX + "*"]}},
            )
        )
