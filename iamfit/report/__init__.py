"""Rendering findings for people and machines: text, JSON, SARIF 2.1.0, GitHub workflow annotations."""
