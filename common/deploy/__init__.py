"""Deployment: the kit (C array, golden vectors, profile) and the Efinix TinyML Generator step."""
