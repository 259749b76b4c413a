import json

from shared.words import greet


def handler(event, context):
    params = event.get("pathParameters") or event.get("queryStringParameters") or event
    name = params.get("name", "world")
    message = greet(name)
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"message": message})}
