"""Webhooks: a transactional outbox (``emit``) and signed, retried delivery (the worker).

``league_api.webhooks.outbox``    events written in the change's own transaction, fanned out
``league_api.webhooks.events``    the catalogue: types, audiences, payloads per key
``league_api.webhooks.delivery``  leases, signing, HTTP, retries, purge
``league_api.webhooks.urls``      outbound URL checks (global addresses only)
``league_api.webhooks.secrets``   secrets encrypted at rest, signatures
"""
