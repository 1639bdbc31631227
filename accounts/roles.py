"""The built-in roles (Django groups loaded from fixtures/roles.json)."""

CUSTOMER = "Customer"
AGENT = "Agent"
SUPERVISOR = "Supervisor"
ADMINISTRATOR = "Administrator"

BUILT_IN_ROLES = (CUSTOMER, AGENT, SUPERVISOR, ADMINISTRATOR)

BUILT_IN_ROLE_PROTECTED = "The built-in role {name!r} cannot be deleted."
