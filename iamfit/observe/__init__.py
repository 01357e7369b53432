"""``iamfit observe``: run the real Serverless CLI against a local AWS (moto) and record every call it makes.

* :mod:`iamfit.observe.local_aws`: the recording moto server and the fixes that keep moto no stricter than AWS;
* :mod:`iamfit.observe.operations`: HTTP request -> service, operation, parameters (botocore's models);
* :mod:`iamfit.observe.record`: the recording WSGI middleware and the recorded :class:`~iamfit.observe.record.Call`;
* :mod:`iamfit.observe.mapping`: a call -> CloudTrail-shaped record -> IAM action and resource;
* :mod:`iamfit.observe.run`: the phases (create, update, remove), the comparison with the predicted deployer
  policy, and the report (schema :data:`SCHEMA`).
"""

SCHEMA = "iamfit.observe/1"
