"""The HTTP API (`/api/v1`, bearer tokens with scopes, OpenAPI) beside the webhook endpoint."""
