"""Reading live AWS state through injected boto3 clients (never created here)."""
