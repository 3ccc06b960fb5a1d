"""Non-GraphQL HTTP: the updater path, downloads and the CI endpoint."""
