"""LLM providers, the middleware pipeline, LlamaIndex query engines, conversations and streaming."""
