"""Evidence: failure texts and CloudTrail records read into typed denials and usage."""
