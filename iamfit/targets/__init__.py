"""Where attempts happen, behind one protocol (:mod:`iamfit.targets.base`): the in-process ``sandbox``
(the default, no AWS account) and ``aws`` (real AWS through an injected boto3 session)."""
