"""The bounded HTTP client of the ``openai`` teacher, which lives with the served-model
client: :mod:`stvg.policies.served.http_guard` (re-exported here)."""

from stvg.policies.served.http_guard import GuardedHttpClient, ReplyTooLarge

__all__ = ["GuardedHttpClient", "ReplyTooLarge"]
