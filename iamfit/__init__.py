"""iamfit: the least-privilege IAM policy a Serverless Framework deployment needs, found and kept honest."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
