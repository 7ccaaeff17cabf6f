"""Who does what in each account: the principals' habits.

A :class:`Persona` is one principal of an account (a role used through sessions, an IAM user, the root
user, or AWS services acting alone) with the templates it calls and how often. Every account has the same
personas, so the truth has the same shape in each, with different ARNs. Some personas also try calls they
are not allowed (``denied``): those always fail with the service's access-denied error, which keeps the
allowed and the denied sets of the ground truth apart.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLE, USER, ROOT, SERVICE = "role", "user", "root", "service"

CLI = (
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0-1022-aws md/arch#x86_64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off"
)
CLI_MAC = (
    "aws-cli/2.15.58 md/awscrt#0.19.19 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.8 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off"
)
BOTO3 = (
    "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.220-209.869.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144"
)
LAMBDA_SDK = (
    "Boto3/1.34.126 md/Botocore#1.34.126 ua/2.0 os/linux#5.10.219-229.866.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy "
    "Botocore/1.34.126"
)
NODE_SDK = (
    "aws-sdk-js/3.596.0 ua/2.0 os/linux#5.10.219-229.866.amzn2.x86_64 lang/js md/nodejs#20.14.0 "
    "api/s3#3.596.0 exec-env/AWS_Lambda_nodejs20.x"
)
GO_ECS = (
    "aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 "
    "exec-env/AWS_ECS_FARGATE"
)
SSM_AGENT = "aws-sdk-go/1.50.9 (go1.22.5; linux; amd64) amazon-ssm-agent/3.3.551.0"
TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.3 (+https://www.terraform.io) terraform-provider-aws/5.60.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 ua/2.0 os/linux "
    "lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64"
)
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 "
    "Safari/537.36"
)
CONSOLE = "AWS Internal"
S3_CONSOLE = (
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.220-188.869.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.412-b08 java/1.8.0_412 vendor/Oracle_Corporation cfg/retry-mode/standard]"
)


@dataclass(frozen=True)
class Persona:
    key: str
    kind: str
    #: relative share of the account's events
    weight: float
    #: ``(template key, relative weight)`` of calls that succeed
    allowed: tuple[tuple[str, float], ...]
    #: templates it tries without permission (always denied)
    denied: tuple[str, ...] = ()
    denied_share: float = 0.0
    user_agents: tuple[str, ...] = (BOTO3,)
    #: where calls come from: ``ci``, ``office``, ``aws`` (AWS-hosted compute) or ``service``
    network: str = "aws"
    #: how sessions are named: ``ci``, ``etl``, ``boto``, ``sso``, ``function``, ``task``,
    #: ``instance``, ``cfn``
    session: str = "boto"
    session_hours: int = 1
    console: bool = False
    #: the service that makes the calls on this principal's behalf (``invokedBy``)
    invoked_by: str = ""
    #: the pool bucket it mostly works in
    home: str = "data"
    #: session tags: each session starts with :data:`ISSUER`'s ``sts:AssumeRole`` that passes them
    session_tags: tuple[tuple[str, str], ...] = ()


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "data-pipeline",
        ROLE,
        30,
        (
            ("s3.GetObject", 30),
            ("s3.PutObject", 14),
            ("s3.HeadObject", 10),
            ("s3.ListObjectsV2", 8),
            ("s3.ListObjects", 3),
            ("s3.CopyObject", 3),
            ("s3.DeleteObjects", 1.5),
            ("s3.DeleteObject", 1.5),
            ("s3.HeadBucket", 2),
            ("s3.ListObjectVersions", 1),
            ("s3.UploadPartCopy", 1),
            ("s3.ListMultipartUploads", 1),
            ("s3.ListParts", 1),
            ("s3.CreateMultipartUpload", 1.5),
            ("s3.UploadPart", 3),
            ("s3.CompleteMultipartUpload", 1.5),
            ("dynamodb.Query", 6),
            ("dynamodb.BatchWriteItem", 2),
            ("dynamodb.GetItem", 4),
            ("kms.Decrypt", 5),
            ("kms.GenerateDataKey", 3),
            ("kms.ReEncrypt", 0.8),
            ("lambda.Invoke", 3),
            ("sqs.GetQueueAttributes", 1),
            ("sqs.GetQueueUrl", 1),
            ("secretsmanager.GetSecretValue", 1),
            ("kms.Decrypt.for-secret", 1),
            ("sts.GetCallerIdentity", 0.5),
        ),
        denied=("ec2.DescribeInstances", "s3.GetObject.audit", "iam.ListRoles"),
        denied_share=0.02,
        session="etl",
    ),
    Persona(
        "orders-api-exec",
        ROLE,
        14,
        (
            ("dynamodb.GetItem", 30),
            ("dynamodb.PutItem", 12),
            ("dynamodb.UpdateItem", 10),
            ("dynamodb.Query", 14),
            ("dynamodb.DeleteItem", 2),
            ("ssm.GetParameter", 4),
            ("ssm.GetParametersByPath", 1),
            ("ssm.GetParameters", 1),
            ("secretsmanager.GetSecretValue", 3),
            ("kms.Decrypt.for-secret", 3),
            ("logs.CreateLogStream", 2),
            ("sqs.GetQueueUrl", 1),
        ),
        user_agents=(LAMBDA_SDK,),
        session="function",
    ),
    Persona(
        "thumbnailer-exec",
        ROLE,
        5,
        (
            ("s3.GetObject", 10),
            ("s3.PutObject", 8),
            ("s3.HeadObject", 3),
            ("logs.CreateLogStream", 1),
            ("ssm.GetParameter", 1),
        ),
        denied=("s3.DeleteObject",),
        denied_share=0.03,
        user_agents=(NODE_SDK,),
        session="function",
    ),
    Persona(
        "orders-worker-task",
        ROLE,
        7,
        (
            ("dynamodb.Query", 8),
            ("dynamodb.UpdateItem", 6),
            ("sqs.GetQueueUrl", 2),
            ("sqs.GetQueueAttributes", 2),
            ("s3.GetObject", 4),
            ("s3.PutObject", 2),
            ("kms.Decrypt", 2),
            ("sts.GetCallerIdentity", 0.3),
        ),
        user_agents=(GO_ECS,),
        session="task",
    ),
    Persona(
        "ecs-task-execution", ROLE, 1.5, (("logs.CreateLogStream", 1),), user_agents=(GO_ECS,), session="task"
    ),
    Persona(
        "ec2-worker",
        ROLE,
        7,
        (
            ("ssm.UpdateInstanceInformation", 6),
            ("s3.GetObject", 5),
            ("s3.PutObject", 3),
            ("s3.ListObjectsV2", 2),
            ("ssm.GetParameter", 1),
            ("kms.GenerateDataKey", 1),
        ),
        denied=("ec2.DescribeInstances",),
        denied_share=0.02,
        user_agents=(SSM_AGENT, BOTO3),
        session="instance",
        session_hours=6,
    ),
    Persona(
        "ops-automation",
        ROLE,
        9,
        (
            ("ec2.DescribeInstances", 10),
            ("ec2.DescribeSecurityGroups", 3),
            ("ec2.DescribeInstanceTypes", 2),
            ("ec2.DescribeVpcs", 1),
            ("ec2.DescribeSubnets", 1),
            ("ec2.DescribeSnapshots", 2),
            ("ec2.DescribeVolumes", 2),
            ("ec2.RunInstances", 0.8),
            ("ec2.StopInstances", 0.8),
            ("ec2.StartInstances", 0.8),
            ("ec2.CreateTags", 1),
            ("ec2.CreateSnapshot", 1),
            ("ec2.AuthorizeSecurityGroupIngress", 0.4),
            ("cloudwatch.DescribeAlarms", 4),
            ("cloudwatch.PutMetricAlarm", 1),
            ("cloudwatch.DescribeAlarmHistory", 1),
            ("cloudwatch.ListDashboards", 0.5),
            ("cloudwatch.GetDashboard", 0.5),
            ("ssm.SendCommand", 1.5),
            ("ssm.DescribeInstanceInformation", 2),
            ("ssm.GetParameter", 1),
            ("ssm.PutParameter", 0.6),
            ("ssm.DescribeParameters", 0.6),
            ("logs.DescribeLogGroups", 1),
            ("logs.PutRetentionPolicy", 0.5),
            ("logs.FilterLogEvents", 1.5),
            ("logs.StartQuery", 1),
        ),
        denied=("ec2.TerminateInstances", "kms.Decrypt"),
        denied_share=0.03,
        session="boto",
    ),
    Persona(
        "app-deployer",
        ROLE,
        5,
        (
            ("lambda.CreateFunction", 0.6),
            ("lambda.UpdateFunctionCode", 2),
            ("lambda.UpdateFunctionConfiguration", 1.5),
            ("lambda.GetFunction", 3),
            ("lambda.ListFunctions", 1),
            ("lambda.AddPermission", 0.5),
            ("cloudformation.CreateStack", 0.5),
            ("cloudformation.UpdateStack", 1),
            ("cloudformation.DescribeStacks", 4),
            ("cloudformation.DescribeStackEvents", 3),
            ("cloudformation.ValidateTemplate", 1),
            ("cloudformation.GetTemplate", 1),
            ("ecs.RegisterTaskDefinition", 1),
            ("ecs.UpdateService", 1),
            ("ecs.DescribeServices", 2),
            ("ecs.DescribeTaskDefinition", 1),
            ("s3.PutObject", 3),
            ("s3.CreateMultipartUpload", 0.5),
            ("s3.UploadPart", 1),
            ("s3.CompleteMultipartUpload", 0.5),
            ("s3.HeadObject", 1),
            ("sts.GetCallerIdentity", 1),
        ),
        denied=("iam.CreateRole", "iam.AttachRolePolicy"),
        denied_share=0.03,
        user_agents=(TERRAFORM, CLI),
        network="ci",
        session="ci",
        home="artifacts",
    ),
    Persona(
        "cfn-exec",
        ROLE,
        2,
        (
            ("sqs.CreateQueue", 1),
            ("sqs.GetQueueAttributes", 2),
            ("sqs.SetQueueAttributes", 1),
            ("sns.CreateTopic", 1),
            ("sns.GetTopicAttributes", 2),
            ("sns.Subscribe", 0.5),
            ("dynamodb.DescribeTable", 2),
            ("lambda.GetFunction", 2),
            ("logs.PutRetentionPolicy", 1),
            ("iam.GetRole", 1),
            ("s3.CreateBucket", 0.3),
            ("s3.GetBucketEncryption", 0.5),
        ),
        user_agents=("cloudformation.amazonaws.com",),
        network="service",
        session="cfn",
        invoked_by="cloudformation.amazonaws.com",
    ),
    Persona(
        "sso-admin",
        ROLE,
        4,
        (
            ("iam.ListRoles", 3),
            ("iam.GetRole", 3),
            ("iam.ListAttachedRolePolicies", 2),
            ("iam.ListRolePolicies", 1),
            ("iam.ListUsers", 1),
            ("iam.GetUser", 1),
            ("iam.GetAccountSummary", 1),
            ("iam.ListPolicies", 1),
            ("iam.GetPolicy", 1),
            ("iam.CreateRole", 0.3),
            ("iam.AttachRolePolicy", 0.3),
            ("iam.PutRolePolicy", 0.3),
            ("s3.ListBuckets", 3),
            ("s3.GetBucketEncryption", 1),
            ("s3.GetBucketPolicy", 1),
            ("s3.GetBucketAcl", 1),
            ("s3.GetBucketLocation", 1),
            ("s3.GetBucketVersioning", 1),
            ("s3.PutBucketLifecycleConfiguration", 0.4),
            ("s3.DeleteBucketCors", 0.3),
            ("s3.PutBucketReplication", 0.3),
            ("s3.CreateBucket", 0.3),
            ("kms.ListKeys", 1),
            ("kms.ListAliases", 1),
            ("kms.DescribeKey", 1),
            ("ec2.DescribeInstances", 2),
            ("ec2.DescribeVpcs", 1),
            ("cloudformation.ListStacks", 1),
            ("cloudformation.DescribeStacks", 1),
            ("logs.DescribeLogGroups", 1),
            ("secretsmanager.ListSecrets", 1),
            ("secretsmanager.DescribeSecret", 1),
            ("secretsmanager.PutSecretValue", 0.3),
            ("sns.ListTopics", 1),
            ("sns.ListSubscriptionsByTopic", 0.5),
            ("sqs.ListQueues", 1),
            ("ecs.ListClusters", 1),
            ("ecs.DescribeClusters", 1),
            ("ecs.ListServices", 1),
            ("lambda.ListFunctions", 1),
            ("lambda.GetFunction", 1),
            ("dynamodb.ListTables", 1),
            ("dynamodb.DescribeTable", 1),
            ("cloudwatch.ListDashboards", 0.5),
            ("cloudwatch.PutDashboard", 0.3),
            ("cloudwatch.GetDashboard", 0.5),
            ("sts.GetCallerIdentity", 0.3),
        ),
        user_agents=(CONSOLE, BROWSER, S3_CONSOLE),
        network="office",
        session="sso",
        session_hours=8,
        console=True,
    ),
    Persona(
        "sso-readonly",
        ROLE,
        3,
        (
            ("iam.ListRoles", 2),
            ("iam.GetRole", 2),
            ("s3.ListBuckets", 3),
            ("s3.GetBucketLocation", 1),
            ("s3.ListObjectsV2", 2),
            ("ec2.DescribeInstances", 3),
            ("ec2.DescribeSecurityGroups", 1),
            ("cloudwatch.DescribeAlarms", 2),
            ("logs.DescribeLogGroups", 1),
            ("logs.FilterLogEvents", 1),
            ("cloudformation.ListStacks", 1),
            ("lambda.ListFunctions", 1),
            ("dynamodb.ListTables", 1),
        ),
        denied=(
            "s3.PutBucketLifecycleConfiguration",
            "ec2.StopInstances",
            "iam.CreateRole",
            "secretsmanager.GetSecretValue",
        ),
        denied_share=0.06,
        user_agents=(CONSOLE, BROWSER),
        network="office",
        session="sso",
        session_hours=8,
        console=True,
    ),
    Persona(
        "ci-deployer",
        USER,
        3,
        (
            ("sts.AssumeRole", 4),
            ("sts.GetCallerIdentity", 3),
            ("s3.PutObject", 2),
            ("s3.ListBuckets", 0.5),
        ),
        denied=("s3.DeleteObject",),
        denied_share=0.03,
        user_agents=(CLI,),
        network="ci",
        home="artifacts",
    ),
    Persona(
        "alice",
        USER,
        2.5,
        (
            ("s3.ListBuckets", 2),
            ("s3.ListObjectsV2", 3),
            ("s3.GetObject", 3),
            ("lambda.GetFunction", 1),
            ("logs.FilterLogEvents", 1),
            ("sts.GetCallerIdentity", 1),
            ("iam.GetUser.self", 0.5),
            ("iam.ListAccessKeys", 0.5),
            ("iam.CreateAccessKey", 0.2),
            ("signin.ConsoleLogin", 0.4),
        ),
        denied=("iam.ListRoles", "ec2.RunInstances"),
        denied_share=0.05,
        user_agents=(CLI_MAC,),
        network="office",
    ),
    Persona(
        "legacy-backup",
        USER,
        4,
        (
            ("s3.PutObject", 5),
            ("s3.GetObject", 1),
            ("s3.ListObjects", 2),
            ("s3.HeadObject", 2),
            ("kms.GenerateDataKey", 2),
            ("ec2.DescribeVolumes", 1),
            ("ec2.CreateSnapshot", 1),
        ),
        user_agents=(BOTO3,),
        network="office",
        home="backup",
    ),
    Persona(
        "root",
        ROOT,
        0.25,
        (
            ("signin.ConsoleLogin", 3),
            ("iam.GetAccountSummary", 2),
            ("iam.GetAccountPasswordPolicy", 1),
            ("iam.GenerateCredentialReport", 1),
            ("s3.ListBuckets", 1),
        ),
        user_agents=(CONSOLE, BROWSER),
        network="office",
        session="root",
        session_hours=2,
        console=True,
    ),
    Persona(
        "services",
        SERVICE,
        3,
        (
            ("sts.AssumeRole.by-lambda", 4),
            ("sts.AssumeRole.by-ecs-tasks", 3),
            ("sts.AssumeRole.by-ec2", 2),
            ("kms.RotateKey", 0.3),
            ("secretsmanager.RotationSucceeded", 0.3),
        ),
        network="service",
        session="service",
    ),
)


#: Who tags resources, and who works in sessions with tags, in archives made with ``SynthConfig(tags=True)``:
#: the ops automation role (the same role as its persona above, so the same sessions), and an analyst role
#: whose sessions the user alice starts with ``team``/``project`` tags; the analyst reads the tables and
#: queues of its team (attribute-based access).
TAG_PERSONAS: tuple[Persona, ...] = (
    Persona(
        "ops-automation",
        ROLE,
        1.5,
        (
            ("lambda.TagResource", 3),
            ("lambda.UntagResource", 1),
            ("dynamodb.TagResource", 2),
            ("s3.PutBucketTagging", 1),
            ("sqs.TagQueue", 1),
        ),
        session="boto",
    ),
    Persona(
        "abac-analyst",
        ROLE,
        1.5,
        (("dynamodb.GetItem.team", 3), ("sqs.GetQueueAttributes.team", 1)),
        user_agents=(CLI_MAC,),
        network="office",
        session_tags=(("team", "green"), ("project", "orders")),
    ),
)

#: Who starts the tagged sessions (the same user as the ``alice`` persona).
ISSUER = Persona("alice", USER, 0.0, (), user_agents=(CLI_MAC,), network="office")


def personas(tags: bool = False) -> tuple[Persona, ...]:
    """The personas of every account; with ``tags``, :data:`TAG_PERSONAS` too."""
    return PERSONAS + TAG_PERSONAS if tags else PERSONAS
