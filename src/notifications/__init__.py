"""Telling people what happened: the outbox's deliveries sent as signed webhooks, Slack
and Discord messages, and email."""
