import json
import time

from shared.words import greet

count = 0  # a module global: it lives as long as the execution environment


def handler(event, context):
    global count
    count += 1
    time.sleep(float(event.get("pause", 0)))  # lets the lesson overlap calls
    body = {"count": count, "message": greet("visitor")}
    return {"statusCode": 200, "body": json.dumps(body)}
