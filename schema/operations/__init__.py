"""The GraphQL documents CI and ``ferryman publish`` send, one file per operation.

They live beside the schema they are checked against, and ship as package data.
"""
