"""The two principals of a Serverless deploy (see docs/concepts.md).

``deployer``        whoever runs ``serverless deploy``; it makes the Framework CLI's own calls.
``cloudformation``  the role in ``provider.iam.deploymentRole`` (CloudFormation service role), or the
                    deployer's own session when the service sets none.
"""

from __future__ import annotations

from typing import Literal

Principal = Literal["deployer", "cloudformation"]
DEPLOYER: Principal = "deployer"
CLOUDFORMATION: Principal = "cloudformation"
PRINCIPALS: tuple[Principal, ...] = (DEPLOYER, CLOUDFORMATION)
