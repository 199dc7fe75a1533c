"""Gateway tests: real upstream on loopback, real openai client, both backends."""
