"""The hand-checked rules that turn a CloudTrail (eventSource, eventName) into IAM actions, as data.

Most events need no rule: the IAM prefix is the eventSource's host and the action is the eventName. The
tables below hold the exceptions. Each entry was checked against the IAM reference data (a test asserts
every action named here exists there) and against AWS's own statements (the Service Authorization
Reference, the API reference, the operation documentation shipped in botocore's service models). Nothing
here is inferred from a name's shape; an event no rule covers and no same-named action matches stays
unmapped.

Keys of ``RULES``, ``REQUEST_DEPENDENT`` and ``NO_PERMISSION`` are IAM prefixes, or an eventSource host
(``s3-control``, ``portal.sso``) where one endpoint needs rules its prefix does not share; the host is
looked up first. Values name actions as ``prefix:Action``, several separated by spaces.
"""

from __future__ import annotations

from collections.abc import Mapping

#: eventSource host (the part before ``.amazonaws.com``) -> IAM service prefix, where they differ.
#: Hosts that are IAM prefixes themselves (``s3``, ``ec2``, ``dynamodb`` ...) need no entry.
HOST_PREFIXES: Mapping[str, str] = {
    # The exceptions every tool has to know.
    "monitoring": "cloudwatch",
    "email": "ses",
    "appstream2": "appstream",
    "models.lex": "lex",
    "runtime.lex": "lex",
    "models-v2-lex": "lex",
    "runtime-v2-lex": "lex",
    "mturk-requester": "mechanicalturk",
    "streams.dynamodb": "dynamodb",
    "tagging": "tag",
    "pinpoint": "mobiletargeting",
    "qconnect": "wisdom",
    "rdsdata": "rds-data",
    "migrationhub": "mgh",
    "migrationhub-config": "mgh",
    # Endpoints whose botocore signing name is the IAM prefix (checked one by one).
    "api.sagemaker": "sagemaker",
    "runtime.sagemaker": "sagemaker",
    "a2i-runtime.sagemaker": "sagemaker",
    "edge.sagemaker": "sagemaker",
    "featurestore-runtime.sagemaker": "sagemaker",
    "metrics.sagemaker": "sagemaker",
    "job-runtime.sagemaker": "sagemaker",
    "training-session-runtime.sagemaker": "sagemaker",
    "gateway-runtime.sagemaker": "sagemaker",
    "inferencerouter-runtime.sagemaker": "sagemaker",
    "bedrock-runtime": "bedrock",
    "bedrock-agent": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "bedrock-data-automation": "bedrock",
    "bedrock-data-automation-runtime": "bedrock",
    "bedrock-agentcore-control": "bedrock-agentcore",
    "identity-chime": "chime",
    "media-pipelines-chime": "chime",
    "meetings-chime": "chime",
    "messaging-chime": "chime",
    "voice-chime": "chime",
    "cloudcontrolapi": "cloudformation",  # Cloud Control API authorises as cloudformation:CreateResource ...
    "cloudhsmv2": "cloudhsm",
    "cloudsearchdomain": "cloudsearch",
    "cloudwatch-omni": "cloudwatch",
    "contact-lens": "connect",
    "api.detective": "detective",
    "api.ecr": "ecr",
    "api.ecr-public": "ecr-public",
    "eventsv2": "events",
    "forecastquery": "forecast",
    "iam-toolbox": "iam",
    "data-ats.iot": "iot",
    "data.iot": "iot",
    "api.tunneling.iot": "iot",
    "data.jobs.iot": "iotjobsdata",
    "api.iotmanagedintegrations": "iotmanagedintegrations",
    "api.iotdeviceadvisor": "iotdeviceadvisor",
    "api.iotwireless": "iotwireless",
    "ivsrealtime": "ivs",
    "cassandra-streams": "cassandra",
    "mail-manager": "ses",
    "agreement-marketplace": "aws-marketplace",
    "catalog.marketplace": "aws-marketplace",
    "deployment-marketplace": "aws-marketplace",
    "discovery-marketplace": "aws-marketplace",
    "entitlement.marketplace": "aws-marketplace",
    "metering.marketplace": "aws-marketplace",
    "reporting-marketplace": "aws-marketplace",
    "memory-db": "memorydb",
    # Partner Central's APIs share one IAM prefix (their operation names are its action names).
    "partnercentral-prm": "partnercentral",
    "partnercentral-account": "partnercentral",
    "partnercentral-benefits": "partnercentral",
    "partnercentral-channel": "partnercentral",
    "partnercentral-selling": "partnercentral",
    "controlplane.payment-cryptography": "payment-cryptography",
    "dataplane.payment-cryptography": "payment-cryptography",
    "personalize-events": "personalize",
    "personalize-runtime": "personalize",
    "sms-voice.pinpoint": "sms-voice",
    "api.pricing": "pricing",
    "data.qapps": "qapps",
    "s3-control": "s3",
    "servicecatalog-appregistry": "servicecatalog",
    "data-signer": "signer",
    "oidc": "sso-oauth",
    "query.timestream": "timestream",
    "ingest.timestream": "timestream",
    "admin.wickr": "wickr",
    "account-access-runtime": "account-access",
    "agent-registry-control": "agent-registry",
    "appconfigdata": "appconfig",
    "api.mediatailor": "mediatailor",
    "data.mediastore": "mediastore",
}

#: Calls whose IAM action is not the same-named one. Values: the actions the call itself needs.
RULES: Mapping[str, Mapping[str, str]] = {
    "s3": {
        "ListObjects": "s3:ListBucket",
        "ListObjectsV2": "s3:ListBucket",
        "HeadBucket": "s3:ListBucket",
        "HeadObject": "s3:GetObject",
        "SelectObjectContent": "s3:GetObject",
        "ListBuckets": "s3:ListAllMyBuckets",
        "CreateMultipartUpload": "s3:PutObject",
        "UploadPart": "s3:PutObject",
        "CompleteMultipartUpload": "s3:PutObject",
        # Target and source: the policy generator scopes each to its own object.
        "CopyObject": "s3:PutObject s3:GetObject",
        "UploadPartCopy": "s3:PutObject s3:GetObject",
        "DeleteObjects": "s3:DeleteObject",
        "ListObjectVersions": "s3:ListBucketVersions",
        "ListMultipartUploads": "s3:ListBucketMultipartUploads",
        "ListParts": "s3:ListMultipartUploadParts",
        "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
        "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
        "GetBucketAnalyticsConfiguration": "s3:GetAnalyticsConfiguration",
        "ListBucketAnalyticsConfigurations": "s3:GetAnalyticsConfiguration",
        "PutBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
        "DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
        "DeleteBucketCors": "s3:PutBucketCORS",
        "GetBucketEncryption": "s3:GetEncryptionConfiguration",
        "PutBucketEncryption": "s3:PutEncryptionConfiguration",
        "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
        "GetBucketIntelligentTieringConfiguration": "s3:GetIntelligentTieringConfiguration",
        "ListBucketIntelligentTieringConfigurations": "s3:GetIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
        "DeleteBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
        "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
        "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
        "PutBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
        "DeleteBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
        "GetBucketLifecycle": "s3:GetLifecycleConfiguration",
        "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
        "PutBucketLifecycle": "s3:PutLifecycleConfiguration",
        "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
        "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
        "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
        "ListBucketMetricsConfigurations": "s3:GetMetricsConfiguration",
        "PutBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
        "DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
        "CreateBucketMetadataConfiguration": "s3:CreateBucketMetadataTableConfiguration",
        "GetBucketMetadataConfiguration": "s3:GetBucketMetadataTableConfiguration",
        "DeleteBucketMetadataConfiguration": "s3:DeleteBucketMetadataTableConfiguration",
        "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
        "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
        "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
        "GetBucketReplication": "s3:GetReplicationConfiguration",
        "PutBucketReplication": "s3:PutReplicationConfiguration",
        "DeleteBucketReplication": "s3:PutReplicationConfiguration",
        "DeleteBucketTagging": "s3:PutBucketTagging",
        "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
        # The API names and the names CloudTrail records for the bucket's public access block.
        "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
        "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
        "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
        "DeleteAccountPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
        "ListDirectoryBuckets": "s3express:ListAllMyDirectoryBuckets",
        "CreateSession": "s3express:CreateSession",
        "WriteGetObjectResponse": "s3-object-lambda:WriteGetObjectResponse",
    },
    # S3 Control's bucket calls act on S3 on Outposts buckets; its account-level calls stay in s3.
    "s3-control": {
        "CreateBucket": "s3-outposts:CreateBucket",
        "DeleteBucket": "s3-outposts:DeleteBucket",
        "GetBucket": "s3-outposts:GetBucket",
        "ListRegionalBuckets": "s3-outposts:ListRegionalBuckets",
        "GetBucketPolicy": "s3-outposts:GetBucketPolicy",
        "PutBucketPolicy": "s3-outposts:PutBucketPolicy",
        "DeleteBucketPolicy": "s3-outposts:DeleteBucketPolicy",
        "GetBucketTagging": "s3-outposts:GetBucketTagging",
        "PutBucketTagging": "s3-outposts:PutBucketTagging",
        "DeleteBucketTagging": "s3-outposts:PutBucketTagging",
        "GetBucketVersioning": "s3-outposts:GetBucketVersioning",
        "PutBucketVersioning": "s3-outposts:PutBucketVersioning",
        "GetBucketLifecycleConfiguration": "s3-outposts:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration": "s3-outposts:PutLifecycleConfiguration",
        "DeleteBucketLifecycleConfiguration": "s3-outposts:PutLifecycleConfiguration",
        "GetBucketReplication": "s3-outposts:GetReplicationConfiguration",
        "PutBucketReplication": "s3-outposts:PutReplicationConfiguration",
        "DeleteBucketReplication": "s3-outposts:PutReplicationConfiguration",
        "GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
        "PutPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
        "DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock",
        "GetAccessPointScope": "s3express:GetAccessPointScope",
        "PutAccessPointScope": "s3express:PutAccessPointScope",
        "DeleteAccessPointScope": "s3express:DeleteAccessPointScope",
        "ListAccessPointsForDirectoryBuckets": "s3express:ListAccessPointsForDirectoryBuckets",
    },
    # Directory buckets: object-level calls on the zonal endpoint are authorised by the session.
    "s3express": dict.fromkeys(
        (
            "GetObject",
            "PutObject",
            "HeadObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "GetObjectAttributes",
            "HeadBucket",
            "ListObjectsV2",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
            "AbortMultipartUpload",
            "ListMultipartUploads",
            "ListParts",
            "RenameObject",
        ),
        "s3express:CreateSession",
    ),
    "lambda": {
        "Invoke": "lambda:InvokeFunction",
        "InvokeWithResponseStream": "lambda:InvokeFunction",
    },
    "kms": {"ReEncrypt": "kms:ReEncryptFrom kms:ReEncryptTo"},
    "sqs": {
        "SendMessageBatch": "sqs:SendMessage",
        "DeleteMessageBatch": "sqs:DeleteMessage",
        "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    },
    "sns": {"PublishBatch": "sns:Publish"},
    "dynamodb": {"TransactGetItems": "dynamodb:GetItem"},
    "bedrock": {
        "Converse": "bedrock:InvokeModel",
        "ConverseStream": "bedrock:InvokeModelWithResponseStream",
        "StartAsyncInvoke": "bedrock:InvokeModel",
        "RetrieveAndGenerateStream": "bedrock:RetrieveAndGenerate",
    },
    "execute-api": {
        "PostToConnection": "execute-api:ManageConnections",
        "GetConnection": "execute-api:ManageConnections",
        "DeleteConnection": "execute-api:ManageConnections",
    },
    "cloudsearch": {"UploadDocuments": "cloudsearch:document"},
    "securityhub": {
        "GetFindingsV2": "securityhub:GetFindings",
        "BatchUpdateFindingsV2": "securityhub:BatchUpdateFindings",
        "GetFindingStatisticsV2": "securityhub:GetAdhocInsightResults",
    },
    "access-analyzer": {
        "GetFindingV2": "access-analyzer:GetFinding",
        "ListFindingsV2": "access-analyzer:ListFindings",
    },
    "glue": {
        "GetUnfilteredPartitionMetadata": "glue:GetPartition",
        "GetUnfilteredPartitionsMetadata": "glue:GetPartitions",
        "GetUnfilteredTableMetadata": "glue:GetTable",
    },
    "dms": {
        "DescribeDataProviders": "dms:ListDataProviders",
        "DescribeExtensionPackAssociations": "dms:ListExtensionPacks",
        "DescribeInstanceProfiles": "dms:ListInstanceProfiles",
        "DescribeMetadataModelAssessments": "dms:ListMetadataModelAssessments",
        "DescribeMetadataModelConversions": "dms:ListMetadataModelConversions",
        "DescribeMetadataModelExportsAsScript": "dms:ListMetadataModelExports",
        "DescribeMetadataModelExportsToTarget": "dms:ListMetadataModelExports",
        "DescribeMigrationProjects": "dms:ListMigrationProjects",
        "ModifyConversionConfiguration": "dms:UpdateConversionConfiguration",
        "ModifyDataProvider": "dms:UpdateDataProvider",
        "ModifyInstanceProfile": "dms:UpdateInstanceProfile",
        "ModifyMigrationProject": "dms:UpdateMigrationProject",
        "StartExtensionPackAssociation": "dms:AssociateExtensionPack",
        "StartMetadataModelExportAsScript": "dms:StartMetadataModelExportAsScripts",
    },
    "neptune-db": {
        "CancelGremlinQuery": "neptune-db:CancelQuery",
        "CancelOpenCypherQuery": "neptune-db:CancelQuery",
        "DeletePropertygraphStatistics": "neptune-db:DeleteStatistics",
        "DeleteSparqlStatistics": "neptune-db:DeleteStatistics",
        "ExecuteFastReset": "neptune-db:ResetDatabase",
        "ExecuteGremlinProfileQuery": "neptune-db:ReadDataViaQuery",
        "ExecuteOpenCypherExplainQuery": "neptune-db:ReadDataViaQuery",
        "GetGremlinQueryStatus": "neptune-db:GetQueryStatus",
        "GetOpenCypherQueryStatus": "neptune-db:GetQueryStatus",
        "ListGremlinQueries": "neptune-db:GetQueryStatus",
        "ListOpenCypherQueries": "neptune-db:GetQueryStatus",
        "GetMLEndpoint": "neptune-db:GetMLEndpointStatus",
        "GetMLModelTrainingJob": "neptune-db:GetMLModelTrainingJobStatus",
        "GetMLModelTransformJob": "neptune-db:GetMLModelTransformJobStatus",
        "GetPropertygraphStatistics": "neptune-db:GetStatisticsStatus",
        "GetPropertygraphStream": "neptune-db:GetStreamRecords",
        "GetSparqlStream": "neptune-db:GetStreamRecords",
        "GetPropertygraphSummary": "neptune-db:GetGraphSummary",
        "GetRDFGraphSummary": "neptune-db:GetGraphSummary",
        "ManagePropertygraphStatistics": "neptune-db:ManageStatistics",
        "ManageSparqlStatistics": "neptune-db:ManageStatistics",
    },
    "neptune-graph": {"GetQuery": "neptune-graph:GetQueryStatus"},
    "bcm-pricing-calculator": {
        f"Batch{verb}{thing}": f"bcm-pricing-calculator:{verb}{thing}"
        for verb in ("Create", "Update", "Delete")
        for thing in (
            "BillScenarioCommitmentModification",
            "BillScenarioUsageModification",
            "WorkloadEstimateUsage",
        )
    },
    "cases": {
        "BatchCreateRelatedItem": "cases:CreateRelatedItem",
        "BatchUpdateCase": "cases:UpdateCase",
    },
    "tax": {
        "BatchGetTaxExemptions": "tax:GetExemptions",
        "GetTaxExemptionTypes": "tax:GetExemptions",
        "ListTaxExemptions": "tax:GetExemptions",
        "PutTaxExemption": "tax:UpdateExemptions",
    },
    "batch": {
        "CancelJobs": "batch:CancelJob",
        "TerminateJobs": "batch:TerminateJob",
        "TerminateServiceJobs": "batch:TerminateServiceJob",
    },
    "verifiedpermissions": {
        "BatchGetPolicy": "verifiedpermissions:GetPolicy",
        "BatchIsAuthorized": "verifiedpermissions:IsAuthorized",
        "BatchIsAuthorizedWithToken": "verifiedpermissions:IsAuthorizedWithToken",
    },
    "lakeformation": {"GetGlueFunctionSessionContext": "lakeformation:GetDataAccess"},
    "ecr": {"ListImageReferrers": "ecr:BatchGetImage"},
    "qapps": {"CreatePresignedUrl": "qapps:ImportDocument"},
    "vpc-lattice": {"BatchUpdateRule": "vpc-lattice:UpdateRule"},
    "observabilityadmin": {
        "StartThirdPartyTelemetryEnrichment": "config:PutThirdPartyServiceLinkedConfigurationRecorder",
        "StopThirdPartyTelemetryEnrichment": "config:DeleteServiceLinkedConfigurationRecorder",
    },
    "ssm": {
        "RegisterDefaultHostManagementConfiguration": "ssm:GetServiceSetting ssm:UpdateServiceSetting",
        "DeregisterDefaultHostManagementConfiguration": "ssm:GetServiceSetting ssm:ResetServiceSetting",
    },
    "budgets": {
        **{
            f"{verb}{thing}": "budgets:ModifyBudget"
            for verb in ("Create", "Update", "Delete")
            for thing in ("Budget", "Notification", "Subscriber")
        },
        **dict.fromkeys(
            (
                "DescribeBudget",
                "DescribeBudgets",
                "DescribeBudgetPerformanceHistory",
                "DescribeBudgetNotificationsForAccount",
                "DescribeNotificationsForBudget",
                "DescribeSubscribersForNotification",
            ),
            "budgets:ViewBudget",
        ),
    },
    "cassandra": {
        "CreateKeyspace": "cassandra:Create",
        "CreateTable": "cassandra:Create",
        "CreateType": "cassandra:Create",
        "DeleteKeyspace": "cassandra:Drop",
        "DeleteTable": "cassandra:Drop",
        "DeleteType": "cassandra:Drop",
        "GetTableAutoScalingSettings": "application-autoscaling:DescribeScalableTargets "
        "application-autoscaling:DescribeScalingPolicies",
    },
}

#: Calls that need one or more of these actions, which ones depending on the request (the statement of a
#: PartiQL call, the items of a transaction, the query's verbs). The policy generator narrows them with
#: ``requestParameters`` where it can; all of them are real actions.
REQUEST_DEPENDENT: Mapping[str, Mapping[str, str]] = {
    "dynamodb": {
        "TransactWriteItems": "dynamodb:ConditionCheckItem dynamodb:DeleteItem dynamodb:PutItem "
        "dynamodb:UpdateItem",
        **dict.fromkeys(
            ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"),
            "dynamodb:PartiQLSelect dynamodb:PartiQLInsert dynamodb:PartiQLUpdate dynamodb:PartiQLDelete",
        ),
    },
    "neptune-db": dict.fromkeys(
        ("ExecuteGremlinQuery", "ExecuteGremlinExplainQuery", "ExecuteOpenCypherQuery"),
        "neptune-db:ReadDataViaQuery neptune-db:WriteDataViaQuery neptune-db:DeleteDataViaQuery",
    ),
    "neptune-graph": {
        "ExecuteQuery": "neptune-graph:ReadDataViaQuery neptune-graph:WriteDataViaQuery "
        "neptune-graph:DeleteDataViaQuery",
    },
    # With a trail name the call also needs ListInsightsData; without one, LookupEvents alone.
    "cloudtrail": {"ListInsightsMetricData": "cloudtrail:LookupEvents cloudtrail:ListInsightsData"},
}

#: Why a call needs no IAM permission, by reason key.
NO_PERMISSION_REASONS: Mapping[str, str] = {
    "always-allowed": "AWS documents this call as needing no permission; an explicit deny does not stop it",
    "console-sign-in": "a console or IAM Identity Center sign-in event, not an API call authorised by IAM",
    "unsigned": "an unsigned call (no SigV4 credentials): IAM policies of a caller are not evaluated",
}

_UNSIGNED_COGNITO_IDP = (
    "AssociateSoftwareToken",
    "ChangePassword",
    "CompleteWebAuthnRegistration",
    "ConfirmDevice",
    "ConfirmForgotPassword",
    "ConfirmSignUp",
    "DeleteUser",
    "DeleteUserAttributes",
    "DeleteWebAuthnCredential",
    "ForgetDevice",
    "ForgotPassword",
    "GetDevice",
    "GetTokensFromRefreshToken",
    "GetUser",
    "GetUserAttributeVerificationCode",
    "GetUserAuthFactors",
    "GlobalSignOut",
    "InitiateAuth",
    "ListDevices",
    "ListUserSessions",
    "ListWebAuthnCredentials",
    "ResendConfirmationCode",
    "RespondToAuthChallenge",
    "RevokeToken",
    "RevokeUserSession",
    "SetUserMFAPreference",
    "SetUserSettings",
    "SignUp",
    "StartWebAuthnRegistration",
    "UpdateAuthEventFeedback",
    "UpdateDeviceStatus",
    "UpdateUserAttributes",
    "VerifySoftwareToken",
    "VerifyUserAttribute",
)
_SSO_PORTAL = ("GetRoleCredentials", "ListAccountRoles", "ListAccounts", "Logout")

#: Calls that need no IAM permission: service -> eventName -> reason key.
NO_PERMISSION: Mapping[str, Mapping[str, str]] = {
    "sts": {
        "GetCallerIdentity": "always-allowed",
        # Authorised by the role's trust policy, not by any identity policy of the (anonymous) caller.
        "AssumeRoleWithSAML": "unsigned",
        "AssumeRoleWithWebIdentity": "unsigned",
    },
    "signin": {
        **dict.fromkeys(
            (
                "ConsoleLogin",
                "SwitchRole",
                "ExitRole",
                "RenewRole",
                "CheckMfa",
                "GetSigninToken",
                "CredentialChallenge",
                "CredentialVerification",
                "UserAuthentication",
            ),
            "console-sign-in",
        ),
        "CreateOAuth2Token": "unsigned",
        "CreateOAuth2TokenWithTokenExchange": "unsigned",
    },
    "cognito-idp": dict.fromkeys(_UNSIGNED_COGNITO_IDP, "unsigned"),
    "cognito-identity": dict.fromkeys(
        ("GetCredentialsForIdentity", "GetId", "GetOpenIdToken", "UnlinkIdentity"), "unsigned"
    ),
    "sso-oauth": dict.fromkeys(("CreateToken", "RegisterClient", "StartDeviceAuthorization"), "unsigned"),
    # The access portal API: CloudTrail records it under sso.amazonaws.com, botocore under portal.sso.
    "sso": dict.fromkeys(_SSO_PORTAL, "unsigned"),
    "portal.sso": dict.fromkeys(_SSO_PORTAL, "unsigned"),
}

#: IAM prefixes whose API actions are the HTTP verbs (``apigateway:GET`` ...), with the botocore service
#: models that give each operation's verb.
HTTP_VERB_SERVICES: Mapping[str, tuple[str, ...]] = {"apigateway": ("apigateway", "apigatewayv2")}

#: eventSource hosts known to have no IAM actions, with why (reported, never mapped).
KNOWN_UNMAPPED: Mapping[str, str] = {
    "participant.connect": "Amazon Connect participant calls are authorised by participant tokens, not IAM",
    "codecatalyst": "CodeCatalyst's API is authorised by CodeCatalyst tokens; IAM lists few of its calls",
}
