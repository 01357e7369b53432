"""The function the observation deploys; it never runs."""


def hello(event, context):
    return {"statusCode": 200, "body": "hello"}
