"""The CDK app that deploys the chat to AWS (see infra/README.md)."""
