"""Export formats of other chat applications (and OllamaNet's own) read into one shape for import."""
