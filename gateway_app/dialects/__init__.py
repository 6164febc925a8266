"""The two wire dialects the gateway speaks: Ollama's own API (passed through) and OpenAI's (translated
to and from Ollama's, as Ollama's own OpenAI compatibility layer does). Pure functions: no database,
no network."""
