"""Stacks and constructs of the chat's CDK app."""
