"""Request and response models. Requests forbid unknown fields: a client can never set server-owned fields."""
