"""The GraphQL documents ``ferryman publish`` sends, shipped as package data."""
