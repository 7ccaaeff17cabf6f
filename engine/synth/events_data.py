"""Amazon DynamoDB, AWS KMS, AWS Secrets Manager and AWS Systems Manager events.

Pitfalls kept on purpose: a DynamoDB ``Query`` on an index needs ``dynamodb:Query`` on the *index* ARN;
``kms:ReEncrypt`` is two actions on two keys; Secrets Manager calls KMS on the caller's behalf (the
``Decrypt`` record names the caller, ``invokedBy`` the service); a secret is asked for by name but its ARN
ends in six random characters; an SSM parameter ``/app/x`` has the ARN ``...:parameter/app/x``; and the
DynamoDB ``key`` request field is an object where S3's is a string.
"""

from __future__ import annotations

from collections.abc import Callable

from trailsmith.synth.catalog import JSON, SERVICE_EVENT, Call, Ctx, Template, iso_ms, resource
from trailsmith.synth.ids import hex_string, uuid4
from trailsmith.synth.world import Table

DYNAMODB, KMS = "dynamodb.amazonaws.com", "kms.amazonaws.com"
SECRETS, SSM = "secretsmanager.amazonaws.com", "ssm.amazonaws.com"


# DynamoDB -------------------------------------------------------------------------------------------------


def _table_arn(c: Ctx, table: Table) -> str:
    return f"{c.pool.prefix('dynamodb')}table/{table.name}"


def _table_resources(c: Ctx, table: Table) -> list[JSON]:
    return [resource("AWS::DynamoDB::Table", _table_arn(c, table), c.acct)]


def _key(c: Ctx, table: Table) -> JSON:
    return {table.partition_key: f"{table.partition_key[:3]}-{c.rng.randrange(10**8):08d}"}


def _item_call(extra: JSON) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        table = c.pick(c.pool.tables)
        request = {"tableName": table.name, "key": _key(c, table), **extra}
        return Call(request, (_table_arn(c, table),), None, _table_resources(c, table))

    return build


def _query(c: Ctx) -> Call:
    table = c.pick(c.pool.tables)
    request: JSON = {
        "tableName": table.name,
        "keyConditionExpression": "#pk = :pk",
        "limit": 50,
        "scanIndexForward": False,
        "consistentRead": False,
    }
    arn = _table_arn(c, table)
    if table.indexes and c.rng.random() < 0.6:
        index = c.pick(table.indexes)
        request["indexName"] = index
        arn = f"{arn}/index/{index}"
    return Call(request, (arn,), None, _table_resources(c, table))


def _batch_write(c: Ctx) -> Call:
    table = c.pick(c.pool.tables)
    request = {"requestItems": [{"tableName": table.name, "putRequestCount": c.rng.randint(2, 25)}]}
    return Call(request, (_table_arn(c, table),), {"unprocessedItems": {}}, _table_resources(c, table))


def _describe_table(c: Ctx) -> Call:
    table = c.pick(c.pool.tables)
    return Call({"tableName": table.name}, (_table_arn(c, table),), None, _table_resources(c, table))


def _list_tables(c: Ctx) -> Call:
    return Call({"limit": 100}, ("*",))


# KMS ------------------------------------------------------------------------------------------------------


def _key_resources(c: Ctx, *arns: str) -> list[JSON]:
    return [resource("AWS::KMS::Key", arn, c.acct) for arn in arns]


def _material(c: Ctx) -> JSON:
    return {"keyMaterialId": hex_string(c.rng, 64)}


def _decrypt(c: Ctx) -> Call:
    arn = c.pool.key_arn(c.pick(c.pool.keys))
    request = {
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{c.pool.data.name}"},
    }
    return Call(request, (arn,), None, _key_resources(c, arn), _material(c))


def _decrypt_for_secret(c: Ctx) -> Call:
    arn = c.pool.key_arn(c.pool.keys[1])
    secret = c.pick(c.pool.secrets)
    context = {
        "SecretARN": f"{c.pool.prefix('secretsmanager')}secret:{secret}",
        "SecretVersionId": uuid4(c.rng),
    }
    return Call(
        {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context},
        (arn,),
        None,
        _key_resources(c, arn),
        _material(c),
    )


def _generate_data_key(c: Ctx) -> Call:
    arn = c.pool.key_arn(c.pick(c.pool.keys))
    request = {
        "keyId": arn,
        "keySpec": "AES_256",
        "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{c.pool.backup.name}"},
    }
    return Call(request, (arn,), None, _key_resources(c, arn), _material(c))


def _re_encrypt(c: Ctx) -> Call:
    source, target = (c.pool.key_arn(k) for k in c.rng.sample(c.pool.keys, 2))
    request = {
        "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "destinationKeyId": target,
    }
    return Call(
        request,
        (source, target),
        None,
        _key_resources(c, source, target),
        {"sourceKeyMaterialId": hex_string(c.rng, 64), "destinationKeyMaterialId": hex_string(c.rng, 64)},
    )


def _describe_key(c: Ctx) -> Call:
    index = c.rng.randrange(len(c.pool.keys))
    arn = c.pool.key_arn(c.pool.keys[index])
    return Call(
        {"keyId": ("alias/data", "alias/secrets", "alias/backup")[index]},
        (arn,),
        None,
        _key_resources(c, arn),
    )


def _list_keys(c: Ctx) -> Call:
    return Call({"limit": 1000}, ("*",))


def _list_aliases(c: Ctx) -> Call:
    return Call(None, ("*",))


def _rotate_key(c: Ctx) -> Call:
    key = c.pick(c.pool.keys)
    return Call(
        None,
        (),
        None,
        _key_resources(c, c.pool.key_arn(key)),
        service_details={"rotationType": "AUTOMATIC", "keyId": key},
    )


# Secrets Manager ------------------------------------------------------------------------------------------


def _secret_arn(c: Ctx, secret: str) -> str:
    return f"{c.pool.prefix('secretsmanager')}secret:{secret}"


def _secret_name(secret: str) -> str:
    return secret.rsplit("-", 1)[0]


def _get_secret_value(c: Ctx) -> Call:
    secret = c.pick(c.pool.secrets)
    return Call({"secretId": _secret_name(secret)}, (_secret_arn(c, secret),))


def _describe_secret(c: Ctx) -> Call:
    secret = c.pick(c.pool.secrets)
    return Call({"secretId": _secret_arn(c, secret)}, (_secret_arn(c, secret),))


def _list_secrets(c: Ctx) -> Call:
    return Call({"maxResults": 100, "includePlannedDeletion": False}, ("*",))


def _put_secret_value(c: Ctx) -> Call:
    secret = c.pick(c.pool.secrets)
    version = uuid4(c.rng)
    response = {
        "arn": _secret_arn(c, secret),
        "name": _secret_name(secret),
        "versionId": version,
        "versionStages": ["AWSCURRENT"],
    }
    return Call(
        {"secretId": _secret_name(secret), "clientRequestToken": version}, (_secret_arn(c, secret),), response
    )


def _rotation_succeeded(c: Ctx) -> Call:
    return Call(None, (), None, None, {"SecretId": _secret_arn(c, c.pick(c.pool.secrets))})


# Systems Manager ------------------------------------------------------------------------------------------


def _param_arn(c: Ctx, name: str) -> str:
    return f"{c.pool.prefix('ssm')}parameter/{name.lstrip('/')}"


def _get_parameter(c: Ctx) -> Call:
    name = c.pick(c.pool.parameters)
    return Call({"name": name, "withDecryption": True}, (_param_arn(c, name),))


def _get_parameters(c: Ctx) -> Call:
    names = tuple(c.rng.sample(c.pool.parameters, 2))
    return Call({"names": list(names), "withDecryption": False}, (tuple(_param_arn(c, n) for n in names),))


def _get_parameters_by_path(c: Ctx) -> Call:
    path = c.pick(("/app/orders", "/app/thumbnailer", "/platform"))
    return Call({"path": path, "recursive": True, "withDecryption": True}, (_param_arn(c, path),))


def _put_parameter(c: Ctx) -> Call:
    name = c.pick(c.pool.parameters)
    request = {
        "name": name,
        "type": "String",
        "overwrite": True,
        "tier": "Standard",
        "value": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    return Call(request, (_param_arn(c, name),), {"version": c.rng.randint(2, 40), "tier": "Standard"})


def _describe_parameters(c: Ctx) -> Call:
    request = {
        "maxResults": 50,
        "parameterFilters": [{"key": "Path", "option": "Recursive", "values": ["/app"]}],
    }
    return Call(request, ("*",))


def _instance_for_session(c: Ctx) -> str:
    return c.session if c.session.startswith("i-") else c.pick(c.pool.instances)


def _update_instance_information(c: Ctx) -> Call:
    instance = _instance_for_session(c)
    ip = f"10.0.{c.rng.randrange(1, 4)}.{c.rng.randrange(4, 250)}"
    request = {
        "instanceId": instance,
        "agentVersion": "3.3.551.0",
        "agentStatus": "Active",
        "platformType": "Linux",
        "platformName": "Amazon Linux",
        "platformVersion": "2023",
        "iPAddress": ip,
        "computerName": f"ip-{ip.replace('.', '-')}.{c.region}.compute.internal",
        "agentName": "amazon-ssm-agent",
        "availabilityZone": f"{c.region}a",
        "ssmConnectionChannel": "ssmmessages",
    }
    return Call(request, (f"{c.pool.prefix('ec2')}instance/{instance}",))


def _send_command(c: Ctx) -> Call:
    instance = c.pick(c.pool.instances)
    document = f"arn:aws:ssm:{c.region}::document/AWS-RunShellScript"
    command = uuid4(c.rng)
    request = {
        "instanceIds": [instance],
        "documentName": "AWS-RunShellScript",
        "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "interactive": False,
        "timeoutSeconds": 600,
    }
    response = {
        "command": {
            "commandId": command,
            "documentName": "AWS-RunShellScript",
            "documentVersion": "$DEFAULT",
            "instanceIds": [instance],
            "requestedDateTime": iso_ms(c.day, c.rng).replace("+0000", "Z"),
            "status": "Pending",
            "statusDetails": "Pending",
            "targetCount": 1,
            "timeoutSeconds": 600,
            "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "interactive": False,
        }
    }
    return Call(request, ((document, f"{c.pool.prefix('ec2')}instance/{instance}"),), response)


def _describe_instance_information(c: Ctx) -> Call:
    return Call({"maxResults": 50}, ("*",))


TEMPLATES = (
    # DynamoDB data events
    Template(
        "dynamodb.GetItem",
        DYNAMODB,
        "GetItem",
        ("dynamodb:GetItem",),
        _item_call({"consistentRead": False, "projectionExpression": "#s, total"}),
        read_only=True,
        data=True,
    ),
    Template(
        "dynamodb.PutItem",
        DYNAMODB,
        "PutItem",
        ("dynamodb:PutItem",),
        _item_call({"returnValues": "NONE"}),
        data=True,
    ),
    Template(
        "dynamodb.UpdateItem",
        DYNAMODB,
        "UpdateItem",
        ("dynamodb:UpdateItem",),
        _item_call({"updateExpression": "SET #s = :s", "returnValues": "UPDATED_NEW"}),
        data=True,
    ),
    Template(
        "dynamodb.DeleteItem", DYNAMODB, "DeleteItem", ("dynamodb:DeleteItem",), _item_call({}), data=True
    ),
    Template("dynamodb.Query", DYNAMODB, "Query", ("dynamodb:Query",), _query, read_only=True, data=True),
    Template(
        "dynamodb.BatchWriteItem",
        DYNAMODB,
        "BatchWriteItem",
        ("dynamodb:BatchWriteItem",),
        _batch_write,
        data=True,
    ),
    Template(
        "dynamodb.DescribeTable",
        DYNAMODB,
        "DescribeTable",
        ("dynamodb:DescribeTable",),
        _describe_table,
        read_only=True,
    ),
    Template(
        "dynamodb.ListTables", DYNAMODB, "ListTables", ("dynamodb:ListTables",), _list_tables, read_only=True
    ),
    # KMS: ReEncrypt needs two actions on two keys
    Template("kms.Decrypt", KMS, "Decrypt", ("kms:Decrypt",), _decrypt, read_only=True),
    Template(
        "kms.Decrypt.for-secret",
        KMS,
        "Decrypt",
        ("kms:Decrypt",),
        _decrypt_for_secret,
        read_only=True,
        invoked_by=SECRETS,
    ),
    Template(
        "kms.GenerateDataKey",
        KMS,
        "GenerateDataKey",
        ("kms:GenerateDataKey",),
        _generate_data_key,
        read_only=True,
    ),
    Template(
        "kms.ReEncrypt",
        KMS,
        "ReEncrypt",
        ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
        _re_encrypt,
        read_only=True,
    ),
    Template("kms.DescribeKey", KMS, "DescribeKey", ("kms:DescribeKey",), _describe_key, read_only=True),
    Template("kms.ListKeys", KMS, "ListKeys", ("kms:ListKeys",), _list_keys, read_only=True),
    Template("kms.ListAliases", KMS, "ListAliases", ("kms:ListAliases",), _list_aliases, read_only=True),
    Template("kms.RotateKey", KMS, "RotateKey", (), _rotate_key, event_type=SERVICE_EVENT),
    # Secrets Manager
    Template(
        "secretsmanager.GetSecretValue",
        SECRETS,
        "GetSecretValue",
        ("secretsmanager:GetSecretValue",),
        _get_secret_value,
        read_only=True,
        not_found=("ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
    ),
    Template(
        "secretsmanager.DescribeSecret",
        SECRETS,
        "DescribeSecret",
        ("secretsmanager:DescribeSecret",),
        _describe_secret,
        read_only=True,
    ),
    Template(
        "secretsmanager.ListSecrets",
        SECRETS,
        "ListSecrets",
        ("secretsmanager:ListSecrets",),
        _list_secrets,
        read_only=True,
    ),
    Template(
        "secretsmanager.PutSecretValue",
        SECRETS,
        "PutSecretValue",
        ("secretsmanager:PutSecretValue",),
        _put_secret_value,
    ),
    Template(
        "secretsmanager.RotationSucceeded",
        SECRETS,
        "RotationSucceeded",
        (),
        _rotation_succeeded,
        event_type=SERVICE_EVENT,
    ),
    # Systems Manager: parameter ARNs drop the name's leading slash
    Template(
        "ssm.GetParameter",
        SSM,
        "GetParameter",
        ("ssm:GetParameter",),
        _get_parameter,
        read_only=True,
        not_found=("ParameterNotFound", ""),
    ),
    Template(
        "ssm.GetParameters", SSM, "GetParameters", ("ssm:GetParameters",), _get_parameters, read_only=True
    ),
    Template(
        "ssm.GetParametersByPath",
        SSM,
        "GetParametersByPath",
        ("ssm:GetParametersByPath",),
        _get_parameters_by_path,
        read_only=True,
    ),
    Template("ssm.PutParameter", SSM, "PutParameter", ("ssm:PutParameter",), _put_parameter),
    Template(
        "ssm.DescribeParameters",
        SSM,
        "DescribeParameters",
        ("ssm:DescribeParameters",),
        _describe_parameters,
        read_only=True,
    ),
    Template(
        "ssm.UpdateInstanceInformation",
        SSM,
        "UpdateInstanceInformation",
        ("ssm:UpdateInstanceInformation",),
        _update_instance_information,
    ),
    Template("ssm.SendCommand", SSM, "SendCommand", ("ssm:SendCommand",), _send_command),
    Template(
        "ssm.DescribeInstanceInformation",
        SSM,
        "DescribeInstanceInformation",
        ("ssm:DescribeInstanceInformation",),
        _describe_instance_information,
        read_only=True,
    ),
)
