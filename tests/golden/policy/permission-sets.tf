# Least-privilege policy for permission-set/AdministratorAccess
data "aws_iam_policy_document" "permission-set-AdministratorAccess" {
  version = "2012-10-17"

  statement {
    sid       = "CloudformationDescribeStacks"
    effect    = "Allow"
    actions   = ["cloudformation:DescribeStacks"]
    resources = ["arn:aws:cloudformation:us-east-1:374535920883:stack/monitoring/*"]
  }

  statement {
    sid       = "CloudformationListStacksAndMoreAnyResource"
    effect    = "Allow"
    actions   = [
      "cloudformation:ListStacks",
      "cloudwatch:ListDashboards",
      "dynamodb:ListTables",
      "ec2:DescribeInstances",
      "ec2:DescribeVpcs",
      "ecs:ListClusters",
      "ecs:ListServices",
      "iam:GetAccountSummary",
      "iam:ListPolicies",
      "iam:ListRoles",
      "iam:ListUsers",
      "kms:ListAliases",
      "kms:ListKeys",
      "lambda:ListFunctions",
      "logs:DescribeLogGroups",
      "s3:ListAllMyBuckets",
      "secretsmanager:ListSecrets",
      "sns:ListTopics",
      "sqs:ListQueues",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "CloudwatchGetDashboard"
    effect    = "Allow"
    actions   = ["cloudwatch:GetDashboard"]
    resources = ["arn:aws:cloudwatch::374535920883:dashboard/platform-health"]
  }

  statement {
    sid       = "CloudwatchPutDashboard"
    effect    = "Allow"
    actions   = ["cloudwatch:PutDashboard"]
    resources = ["arn:aws:cloudwatch::442483717183:dashboard/orders-overview"]
  }

  statement {
    sid       = "DynamodbDescribeTable"
    effect    = "Allow"
    actions   = ["dynamodb:DescribeTable"]
    resources = ["arn:aws:dynamodb:us-east-1:062058595613:table/Inventory"]
  }

  statement {
    sid       = "EcsDescribeClusters"
    effect    = "Allow"
    actions   = ["ecs:DescribeClusters"]
    resources = ["arn:aws:ecs:us-east-1:442483717183:cluster/orders"]
  }

  statement {
    sid       = "IamAttachRolePolicy"
    effect    = "Allow"
    actions   = ["iam:AttachRolePolicy"]
    resources = [
      "arn:aws:iam::374535920883:role/app-deployer",
      "arn:aws:iam::374535920883:role/service-role/orders-api-exec",
    ]
  }

  statement {
    sid       = "IamCreateRole"
    effect    = "Allow"
    actions   = ["iam:CreateRole"]
    resources = ["arn:aws:iam::374535920883:role/sandbox/experiment-1"]
  }

  statement {
    sid       = "IamGetPolicy"
    effect    = "Allow"
    actions   = ["iam:GetPolicy"]
    resources = ["arn:aws:iam::442483717183:policy/ops-break-glass"]
  }

  statement {
    sid       = "IamGetRole"
    effect    = "Allow"
    actions   = ["iam:GetRole"]
    resources = [
      "arn:aws:iam::062058595613:role/cfn-exec",
      "arn:aws:iam::442483717183:role/service/ops/ops-automation",
    ]
  }

  statement {
    sid       = "IamGetUser"
    effect    = "Allow"
    actions   = ["iam:GetUser"]
    resources = ["arn:aws:iam::062058595613:user/legacy-backup"]
  }

  statement {
    sid       = "IamListAttachedRolePolicies"
    effect    = "Allow"
    actions   = ["iam:ListAttachedRolePolicies"]
    resources = [
      "arn:aws:iam::062058595613:role/*/s3-replication",
      "arn:aws:iam::062058595613:role/s3-replication",
      "arn:aws:iam::442483717183:role/cfn-exec",
      "arn:aws:iam::442483717183:role/ec2-worker",
    ]
  }

  statement {
    sid       = "IamListRolePolicies"
    effect    = "Allow"
    actions   = ["iam:ListRolePolicies"]
    resources = ["arn:aws:iam::374535920883:role/service/ops/ops-automation"]
  }

  statement {
    sid       = "IamPutRolePolicy"
    effect    = "Allow"
    actions   = ["iam:PutRolePolicy"]
    resources = ["arn:aws:iam::062058595613:role/service/ops/ops-automation"]
  }

  statement {
    sid       = "KmsDescribeKey"
    effect    = "Allow"
    actions   = ["kms:DescribeKey"]
    resources = ["arn:aws:kms:us-east-1:062058595613:key/9d3c2724-14f0-4312-ab8a-7b3f06a3d8b4"]
  }

  statement {
    sid       = "LambdaGetFunction"
    effect    = "Allow"
    actions   = ["lambda:GetFunction"]
    resources = ["arn:aws:lambda:us-east-1:374535920883:function:nightly-report"]
  }

  statement {
    sid       = "S3CreateBucket"
    effect    = "Allow"
    actions   = ["s3:CreateBucket"]
    resources = [
      "arn:aws:s3:::prod-scratch-2-us-east-1-062058595613",
      "arn:aws:s3:::shared-scratch-0-us-east-1-374535920883",
    ]
  }

  statement {
    sid       = "S3GetBucketAcl"
    effect    = "Allow"
    actions   = ["s3:GetBucketAcl"]
    resources = ["arn:aws:s3:::shared-backup-us-east-1-374535920883"]
  }

  statement {
    sid       = "S3GetBucketLocation"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = ["arn:aws:s3:::shared-artifacts-us-east-1-374535920883"]
  }

  statement {
    sid       = "S3GetBucketPolicy"
    effect    = "Allow"
    actions   = ["s3:GetBucketPolicy"]
    resources = ["arn:aws:s3:::staging-artifacts-us-east-1-442483717183"]
  }

  statement {
    sid       = "S3GetBucketVersioning"
    effect    = "Allow"
    actions   = ["s3:GetBucketVersioning"]
    resources = [
      "arn:aws:s3:::prod-data-us-east-1-062058595613",
      "arn:aws:s3:::staging-artifacts-us-east-1-442483717183",
    ]
  }

  statement {
    sid       = "S3GetEncryptionConfiguration"
    effect    = "Allow"
    actions   = ["s3:GetEncryptionConfiguration"]
    resources = [
      "arn:aws:s3:::prod-artifacts-eu-west-1-062058595613",
      "arn:aws:s3:::staging-backup-us-east-1-442483717183",
    ]
  }

  statement {
    sid       = "S3PutBucketCORS"
    effect    = "Allow"
    actions   = ["s3:PutBucketCORS"]
    resources = [
      "arn:aws:s3:::prod-artifacts-us-east-1-062058595613",
      "arn:aws:s3:::staging-data-us-east-1-442483717183",
    ]
  }

  statement {
    sid       = "S3PutLifecycleConfiguration"
    effect    = "Allow"
    actions   = ["s3:PutLifecycleConfiguration"]
    resources = [
      "arn:aws:s3:::prod-data-eu-west-1-062058595613",
      "arn:aws:s3:::prod-data-us-east-1-062058595613",
    ]
  }

  statement {
    sid       = "S3PutReplicationConfiguration"
    effect    = "Allow"
    actions   = ["s3:PutReplicationConfiguration"]
    resources = ["arn:aws:s3:::staging-data-us-east-1-442483717183"]
  }

  statement {
    sid       = "SecretsmanagerDescribeSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:DescribeSecret"]
    resources = [
      "arn:aws:secretsmanager:us-east-1:374535920883:secret:shared/datadog-zkNyB3",
      "arn:aws:secretsmanager:us-east-1:442483717183:secret:prod/orders/db-gBZ7Dm",
    ]
  }

  statement {
    sid       = "SecretsmanagerPutSecretValue"
    effect    = "Allow"
    actions   = ["secretsmanager:PutSecretValue"]
    resources = ["arn:aws:secretsmanager:us-east-1:442483717183:secret:shared/datadog-??????"]
  }

  statement {
    sid       = "SnsListSubscriptionsByTopic"
    effect    = "Allow"
    actions   = ["sns:ListSubscriptionsByTopic"]
    resources = [
      "arn:aws:sns:eu-west-1:442483717183:orders-notifications",
      "arn:aws:sns:us-east-1:374535920883:alerts",
    ]
  }

  statement {
    sid       = "IamPassRoleToS3"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = ["arn:aws:iam::442483717183:role/service-role/s3-replication"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["s3.amazonaws.com"]
    }
  }
}

# Least-privilege policy for permission-set/ReadOnlyAccess
data "aws_iam_policy_document" "permission-set-ReadOnlyAccess" {
  version = "2012-10-17"

  statement {
    sid       = "CloudformationListStacksAndMoreAnyResource"
    effect    = "Allow"
    actions   = [
      "cloudformation:ListStacks",
      "dynamodb:ListTables",
      "ec2:DescribeInstances",
      "ec2:DescribeSecurityGroups",
      "iam:ListRoles",
      "lambda:ListFunctions",
      "logs:DescribeLogGroups",
      "s3:ListAllMyBuckets",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "CloudwatchDescribeAlarms"
    effect    = "Allow"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = [
      "arn:aws:cloudwatch:us-east-1:062058595613:alarm:orders-api-5xx",
      "arn:aws:cloudwatch:us-east-1:062058595613:alarm:orders-queue-depth",
      "arn:aws:cloudwatch:us-east-1:442483717183:alarm:*",
    ]
  }

  statement {
    sid       = "IamGetRole"
    effect    = "Allow"
    actions   = ["iam:GetRole"]
    resources = [
      "arn:aws:iam::442483717183:role/cfn-exec",
      "arn:aws:iam::442483717183:role/orders-worker-task",
    ]
  }

  statement {
    sid       = "LogsFilterLogEvents"
    effect    = "Allow"
    actions   = ["logs:FilterLogEvents"]
    resources = [
      "arn:aws:logs:eu-west-1:062058595613:log-group:/aws/lambda/orders-api",
      "arn:aws:logs:us-east-1:062058595613:log-group:/aws/lambda/orders-api",
      "arn:aws:logs:us-east-1:374535920883:log-group:/aws/lambda/thumbnailer",
      "arn:aws:logs:us-east-1:374535920883:log-group:/ops/automation",
      "arn:aws:logs:us-east-1:442483717183:log-group:/aws/lambda/nightly-report",
    ]
  }

  statement {
    sid       = "S3GetBucketLocation"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [
      "arn:aws:s3:::shared-data-us-east-1-374535920883",
      "arn:aws:s3:::staging-artifacts-eu-west-1-442483717183",
      "arn:aws:s3:::staging-backup-us-east-1-442483717183",
      "arn:aws:s3:::staging-data-us-east-1-442483717183",
    ]
  }

  statement {
    sid       = "S3ListBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::prod-data-us-east-1-062058595613"]
  }
}
