"""Query engines: the only layer of the project that imports LlamaIndex."""
