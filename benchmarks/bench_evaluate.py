"""Evaluations per second for a 200-statement policy (cold: distinct requests; warm: memoised repeats).

Run: python benchmarks/bench_evaluate.py
"""

from __future__ import annotations

import random
import time

from iamfit.policy.document import PolicyDocument, Statement
from iamfit.policy.evaluate import PolicySet, Request

SERVICES = ["s3", "lambda", "logs", "iam", "cloudformation", "apigateway", "sqs", "sns", "dynamodb", "events"]
VERBS = ["Get", "Put", "Create", "Delete", "Update", "List", "Describe", "Tag", "Untag"]
NOUNS = ["Function", "Bucket", "Object", "Role", "Stack", "Queue", "Topic", "Table", "Rule", "LogGroup"]


def _policy(rng: random.Random, statements: int = 200) -> PolicyDocument:
    out = []
    for i in range(statements):
        service = rng.choice(SERVICES)
        actions = [f"{service}:{rng.choice(VERBS)}{rng.choice(NOUNS)}" for _ in range(rng.randint(1, 6))]
        if i % 10 == 0:
            actions.append(f"{service}:{rng.choice(VERBS)}*")
        resource = f"arn:aws:{service}:us-east-1:123456789012:app-{i}-*"
        raw: dict[str, object] = {"Sid": f"S{i}", "Effect": "Deny" if i % 25 == 0 else "Allow"}
        raw["Action"] = actions
        raw["Resource"] = [resource, f"arn:aws:{service}:*:123456789012:shared/{i}/*"]
        if i % 7 == 0:
            raw["Condition"] = {"StringEquals": {"aws:RequestTag/stage": "dev"}}
        if i % 13 == 0:
            raw["Resource"] = "arn:aws:s3:::home/${aws:username}/*"
        out.append(Statement.from_json(raw, i))
    return PolicyDocument(tuple(out))


def _requests(rng: random.Random, document: PolicyDocument, count: int) -> list[Request]:
    """Half the requests aim at a statement (one of its actions, a resource it names), half at random."""
    out = []
    for n in range(count):
        service = rng.choice(SERVICES)
        action = f"{service}:{rng.choice(VERBS)}{rng.choice(NOUNS)}"
        resource = f"arn:aws:{service}:us-east-1:123456789012:app-{rng.randrange(220)}-{n}"
        if n % 2:
            i = rng.randrange(len(document.statements))
            action = rng.choice(document.statements[i].actions).replace("*", "Thing")
            resource = f"arn:aws:{action.split(':')[0]}:us-east-1:123456789012:app-{i}-{n}"
        ctx = {"aws:RequestTag/stage": rng.choice(["dev", "prod"]), "aws:username": "ci"}
        out.append(Request.of(action, resource, ctx))
    return out


def main() -> None:
    rng = random.Random(7)
    document = _policy(rng)
    started = time.perf_counter()
    policies = PolicySet.of(document)
    compile_s = time.perf_counter() - started
    requests = _requests(rng, document, 100_000)

    started = time.perf_counter()
    allowed = sum(policies.evaluate(r).allowed for r in requests)
    cold = len(requests) / (time.perf_counter() - started)

    started = time.perf_counter()
    for _ in range(3):
        for r in requests:
            policies.evaluate(r)
    warm = 3 * len(requests) / (time.perf_counter() - started)

    print(
        f"policy: {len(document.statements)} statements, {document.size()} characters; compile {compile_s * 1e3:.1f} ms"
    )
    print(f"cold (distinct requests): {cold:,.0f} evaluations/s ({allowed} of {len(requests)} allowed)")
    print(f"warm (memoised repeats):  {warm:,.0f} evaluations/s")


if __name__ == "__main__":
    main()
