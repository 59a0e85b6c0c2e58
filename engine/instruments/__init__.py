"""AI instruments' engine side: the OpenAI-compatible model client, the configured models and
their limits, and secret redaction (SPEC 3.8). Must not import Textual."""
