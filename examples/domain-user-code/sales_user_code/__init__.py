"""The `sales` domain's Dagster code location; definitions live in `sales_user_code.definitions`."""
