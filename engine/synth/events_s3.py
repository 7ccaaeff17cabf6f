"""Amazon S3 events: object-level data events and bucket-level management events.

S3 is where event names and IAM actions part ways most often (``HeadObject`` needs ``s3:GetObject``,
``ListObjectsV2`` needs ``s3:ListBucket``, ``CopyObject`` needs ``s3:PutObject`` on the target *and*
``s3:GetObject`` on the source ...). Each template below states the actions from the Service Authorization
Reference. Request shapes follow CloudTrail's S3 records: ``bucketName``, ``Host`` and ``key`` plus the
sub-resource flag of the REST call (``"encryption": ""``), with ``additionalEventData`` describing the
transfer.
"""

from __future__ import annotations

from collections.abc import Callable

from trailsmith.synth.catalog import JSON, Call, Ctx, Template, resource, s3_bucket_arn, s3_object_arn
from trailsmith.synth.ids import alnum, b64, hex_string
from trailsmith.synth.world import Bucket

S3 = "s3.amazonaws.com"
_NO_SUCH_KEY = ("NoSuchKey", "The specified key does not exist.")
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _host(c: Ctx, bucket: str) -> str:
    return f"{bucket}.s3.{c.region}.amazonaws.com"


def _req(c: Ctx, bucket: str, **extra: object) -> JSON:
    return {"bucketName": bucket, "Host": _host(c, bucket), **extra}


def _transfer(c: Ctx, bytes_in: int = 0, bytes_out: int = 0) -> JSON:
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": bytes_in,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": b64(c.rng, 56) + "=",
        "bytesTransferredOut": bytes_out,
    }


def _object_resources(c: Ctx, bucket: str, key: str) -> list[JSON]:
    return [
        resource("AWS::S3::Object", s3_object_arn(bucket, key)),
        resource("AWS::S3::Bucket", s3_bucket_arn(bucket), c.acct),
    ]


def _bucket_resources(c: Ctx, bucket: str) -> list[JSON]:
    return [resource("AWS::S3::Bucket", s3_bucket_arn(bucket), c.acct)]


def _bucket_for(c: Ctx) -> Bucket:
    """The bucket the caller works in (its persona's home: data, artifacts or backup)."""
    bucket: Bucket = getattr(c.pool, c.home)
    return bucket


# object-level data events ---------------------------------------------------------------------------------


def _get_object(c: Ctx) -> Call:
    b = _bucket_for(c)
    key = c.pick(b.keys)
    return Call(
        _req(c, b.name, key=key),
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c, bytes_out=c.rng.randrange(512, 40_000_000)),
        host=_host(c, b.name),
    )


def _get_audit_object(c: Ctx) -> Call:
    b = c.pool.audit
    key = c.pick(b.keys)
    return Call(
        _req(c, b.name, key=key),
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c),
        host=_host(c, b.name),
    )


def _head_object(c: Ctx) -> Call:
    b = _bucket_for(c)
    key = c.pick(b.keys)
    return Call(
        _req(c, b.name, key=key),
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c),
        host=_host(c, b.name),
    )


def _put_object(c: Ctx) -> Call:
    b = _bucket_for(c)
    key = c.pick(b.keys)
    response = {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": c.pool.key_arn(c.pool.keys[0]),
        "x-amz-server-side-encryption-bucket-key-enabled": "true",
    }
    return Call(
        _req(c, b.name, key=key),
        (s3_object_arn(b.name, key),),
        response,
        _object_resources(c, b.name, key),
        _transfer(c, bytes_in=c.rng.randrange(200, 5_000_000)),
        host=_host(c, b.name),
    )


def _delete_object(c: Ctx) -> Call:
    b = c.pool.data
    key = c.pick(b.keys)
    return Call(
        _req(c, b.name, key=key),
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c),
        host=_host(c, b.name),
    )


def _delete_objects(c: Ctx) -> Call:
    # The keys of a multi-object delete travel in the request body, which CloudTrail does not record:
    # the only resource the record can name is the bucket, so the truth is "any object in it".
    b = c.pool.data
    return Call(
        _req(c, b.name, delete=""),
        (s3_object_arn(b.name, "*"),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_in=c.rng.randrange(200, 4000)),
        host=_host(c, b.name),
    )


def _copy_object(c: Ctx) -> Call:
    b = c.pool.data
    source, target = c.rng.sample(b.keys, 2)
    request = _req(
        c,
        b.name,
        key=target,
        **{"x-amz-copy-source": f"{b.name}/{source}", "x-amz-metadata-directive": "COPY"},
    )
    response = {
        "x-amz-server-side-encryption": "AES256",
        "CopyObjectResult": {
            "ETag": f'"{hex_string(c.rng, 32)}"',
            "LastModified": "2024-01-01T00:00:00.000Z",
        },
    }
    resources = _object_resources(c, b.name, target) + _object_resources(c, b.name, source)
    return Call(
        request,
        (s3_object_arn(b.name, target), s3_object_arn(b.name, source)),
        response,
        resources,
        _transfer(c, bytes_out=230),
        host=_host(c, b.name),
    )


def _upload_id(c: Ctx) -> str:
    return alnum(c.rng, 64)


def _create_multipart(c: Ctx) -> Call:
    b = _bucket_for(c)
    key = c.pick(b.keys)
    upload = _upload_id(c)
    return Call(
        _req(c, b.name, key=key, uploads=""),
        (s3_object_arn(b.name, key),),
        {"bucket": b.name, "key": key, "uploadId": upload},
        _object_resources(c, b.name, key),
        _transfer(c, bytes_out=380),
        host=_host(c, b.name),
    )


def _upload_part(c: Ctx) -> Call:
    b = _bucket_for(c)
    key = c.pick(b.keys)
    request = _req(c, b.name, key=key, partNumber=str(c.rng.randint(1, 40)), uploadId=_upload_id(c))
    return Call(
        request,
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c, bytes_in=8_388_608),
        host=_host(c, b.name),
    )


def _complete_multipart(c: Ctx) -> Call:
    b = _bucket_for(c)
    key = c.pick(b.keys)
    return Call(
        _req(c, b.name, key=key, uploadId=_upload_id(c)),
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c, bytes_in=1200, bytes_out=420),
        host=_host(c, b.name),
    )


def _upload_part_copy(c: Ctx) -> Call:
    b = c.pool.data
    source, target = c.rng.sample(b.keys, 2)
    request = _req(
        c,
        b.name,
        key=target,
        partNumber="1",
        uploadId=_upload_id(c),
        **{"x-amz-copy-source": f"{b.name}/{source}"},
    )
    resources = _object_resources(c, b.name, target) + _object_resources(c, b.name, source)
    return Call(
        request,
        (s3_object_arn(b.name, target), s3_object_arn(b.name, source)),
        None,
        resources,
        _transfer(c, bytes_out=250),
        host=_host(c, b.name),
    )


def _list_parts(c: Ctx) -> Call:
    b = c.pool.data
    key = c.pick(b.keys)
    return Call(
        _req(c, b.name, key=key, uploadId=_upload_id(c)),
        (s3_object_arn(b.name, key),),
        None,
        _object_resources(c, b.name, key),
        _transfer(c, bytes_out=900),
        host=_host(c, b.name),
    )


def _prefix(c: Ctx, b: Bucket) -> str:
    return c.pick(b.keys).rsplit("/", 1)[0] + "/"


def _list_objects(c: Ctx) -> Call:
    b = _bucket_for(c)
    request = _req(c, b.name, prefix=_prefix(c, b), delimiter="/", **{"encoding-type": "url"})
    return Call(
        request,
        (s3_bucket_arn(b.name),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_out=c.rng.randrange(300, 9000)),
        host=_host(c, b.name),
    )


def _list_objects_v2(c: Ctx) -> Call:
    b = _bucket_for(c)
    request = {
        "list-type": "2",
        **_req(c, b.name, prefix=_prefix(c, b)),
        "encoding-type": "url",
        "max-keys": "1000",
    }
    return Call(
        request,
        (s3_bucket_arn(b.name),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_out=c.rng.randrange(300, 9000)),
        host=_host(c, b.name),
    )


def _list_object_versions(c: Ctx) -> Call:
    b = c.pool.data
    return Call(
        _req(c, b.name, versions="", prefix=_prefix(c, b)),
        (s3_bucket_arn(b.name),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_out=2100),
        host=_host(c, b.name),
    )


def _list_multipart_uploads(c: Ctx) -> Call:
    b = c.pool.data
    return Call(
        _req(c, b.name, uploads=""),
        (s3_bucket_arn(b.name),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_out=410),
        host=_host(c, b.name),
    )


# bucket-level management events ---------------------------------------------------------------------------


def _head_bucket(c: Ctx) -> Call:
    b = _bucket_for(c)
    return Call(
        _req(c, b.name),
        (s3_bucket_arn(b.name),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c),
        host=_host(c, b.name),
    )


def _list_buckets(c: Ctx) -> Call:
    return Call(
        {"Host": f"s3.{c.region}.amazonaws.com"},
        ("*",),
        None,
        None,
        _transfer(c, bytes_out=2400),
        host=f"s3.{c.region}.amazonaws.com",
    )


def _bucket_config(flag: str) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        b = c.pick((c.pool.data, c.pool.artifacts, c.pool.backup))
        return Call(
            _req(c, b.name, **{flag: ""}),
            (s3_bucket_arn(b.name),),
            None,
            _bucket_resources(c, b.name),
            _transfer(c, bytes_out=c.rng.randrange(150, 900)),
            host=_host(c, b.name),
        )

    return build


def _create_bucket(c: Ctx) -> Call:
    name = f"{c.account.alias}-scratch-{c.rng.randrange(3)}-{c.region}-{c.acct}"
    request = _req(c, name, CreateBucketConfiguration={"LocationConstraint": c.region, "xmlns": _XMLNS})
    return Call(
        request,
        (s3_bucket_arn(name),),
        None,
        _bucket_resources(c, name),
        _transfer(c, bytes_in=150),
        host=_host(c, name),
    )


def _put_lifecycle(c: Ctx) -> Call:
    b = c.pool.data
    rule = {
        "ID": "expire-raw",
        "Status": "Enabled",
        "Filter": {"Prefix": "raw/"},
        "Expiration": {"Days": 90},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    }
    request = _req(c, b.name, lifecycle="", LifecycleConfiguration={"Rule": rule, "xmlns": _XMLNS})
    return Call(
        request,
        (s3_bucket_arn(b.name),),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_in=420),
        host=_host(c, b.name),
    )


def _put_replication(c: Ctx) -> Call:
    b = c.pool.data
    role = c.account.roles["s3-replication"]
    target = c.pool.backup.name
    config = {
        "Role": role.arn,
        "Rule": {
            "ID": "to-backup",
            "Status": "Enabled",
            "Priority": 1,
            "Filter": {"Prefix": "curated/"},
            "Destination": {"Bucket": s3_bucket_arn(target)},
            "DeleteMarkerReplication": {"Status": "Disabled"},
        },
        "xmlns": _XMLNS,
    }
    request = _req(c, b.name, replication="", ReplicationConfiguration=config)
    return Call(
        request,
        (s3_bucket_arn(b.name), role.arn),
        None,
        _bucket_resources(c, b.name),
        _transfer(c, bytes_in=610),
        host=_host(c, b.name),
    )


TEMPLATES = (
    # data events: the action name differs from the event name in most of them
    Template(
        "s3.GetObject",
        S3,
        "GetObject",
        ("s3:GetObject",),
        _get_object,
        read_only=True,
        data=True,
        not_found=_NO_SUCH_KEY,
    ),
    Template(
        "s3.GetObject.audit", S3, "GetObject", ("s3:GetObject",), _get_audit_object, read_only=True, data=True
    ),
    Template(
        "s3.HeadObject",
        S3,
        "HeadObject",
        ("s3:GetObject",),
        _head_object,
        read_only=True,
        data=True,
        not_found=_NO_SUCH_KEY,
    ),
    Template("s3.PutObject", S3, "PutObject", ("s3:PutObject",), _put_object, data=True),
    Template("s3.DeleteObject", S3, "DeleteObject", ("s3:DeleteObject",), _delete_object, data=True),
    Template("s3.DeleteObjects", S3, "DeleteObjects", ("s3:DeleteObject",), _delete_objects, data=True),
    Template("s3.CopyObject", S3, "CopyObject", ("s3:PutObject", "s3:GetObject"), _copy_object, data=True),
    Template(
        "s3.CreateMultipartUpload",
        S3,
        "CreateMultipartUpload",
        ("s3:PutObject",),
        _create_multipart,
        data=True,
    ),
    Template("s3.UploadPart", S3, "UploadPart", ("s3:PutObject",), _upload_part, data=True),
    Template(
        "s3.CompleteMultipartUpload",
        S3,
        "CompleteMultipartUpload",
        ("s3:PutObject",),
        _complete_multipart,
        data=True,
    ),
    Template(
        "s3.UploadPartCopy",
        S3,
        "UploadPartCopy",
        ("s3:PutObject", "s3:GetObject"),
        _upload_part_copy,
        data=True,
    ),
    Template(
        "s3.ListParts",
        S3,
        "ListParts",
        ("s3:ListMultipartUploadParts",),
        _list_parts,
        read_only=True,
        data=True,
    ),
    Template(
        "s3.ListObjects", S3, "ListObjects", ("s3:ListBucket",), _list_objects, read_only=True, data=True
    ),
    Template(
        "s3.ListObjectsV2",
        S3,
        "ListObjectsV2",
        ("s3:ListBucket",),
        _list_objects_v2,
        read_only=True,
        data=True,
    ),
    Template(
        "s3.ListObjectVersions",
        S3,
        "ListObjectVersions",
        ("s3:ListBucketVersions",),
        _list_object_versions,
        read_only=True,
        data=True,
    ),
    Template(
        "s3.ListMultipartUploads",
        S3,
        "ListMultipartUploads",
        ("s3:ListBucketMultipartUploads",),
        _list_multipart_uploads,
        read_only=True,
        data=True,
    ),
    # management events
    Template("s3.HeadBucket", S3, "HeadBucket", ("s3:ListBucket",), _head_bucket, read_only=True),
    Template("s3.ListBuckets", S3, "ListBuckets", ("s3:ListAllMyBuckets",), _list_buckets, read_only=True),
    Template("s3.CreateBucket", S3, "CreateBucket", ("s3:CreateBucket",), _create_bucket),
    Template(
        "s3.GetBucketEncryption",
        S3,
        "GetBucketEncryption",
        ("s3:GetEncryptionConfiguration",),
        _bucket_config("encryption"),
        read_only=True,
    ),
    Template(
        "s3.GetBucketPolicy",
        S3,
        "GetBucketPolicy",
        ("s3:GetBucketPolicy",),
        _bucket_config("policy"),
        read_only=True,
    ),
    Template(
        "s3.GetBucketAcl", S3, "GetBucketAcl", ("s3:GetBucketAcl",), _bucket_config("acl"), read_only=True
    ),
    Template(
        "s3.GetBucketLocation",
        S3,
        "GetBucketLocation",
        ("s3:GetBucketLocation",),
        _bucket_config("location"),
        read_only=True,
    ),
    Template(
        "s3.GetBucketVersioning",
        S3,
        "GetBucketVersioning",
        ("s3:GetBucketVersioning",),
        _bucket_config("versioning"),
        read_only=True,
    ),
    Template("s3.DeleteBucketCors", S3, "DeleteBucketCors", ("s3:PutBucketCORS",), _bucket_config("cors")),
    Template(
        "s3.PutBucketLifecycleConfiguration",
        S3,
        "PutBucketLifecycleConfiguration",
        ("s3:PutLifecycleConfiguration",),
        _put_lifecycle,
    ),
    # replication needs the replication role passed to S3 as well
    Template(
        "s3.PutBucketReplication",
        S3,
        "PutBucketReplication",
        ("s3:PutReplicationConfiguration", "iam:PassRole"),
        _put_replication,
        passed_to="s3.amazonaws.com",
    ),
)
