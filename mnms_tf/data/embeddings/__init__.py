"""Embedding modules in TF-Hub format: building them from word vectors, the registry of slots
and handles, and the Keras layer over one.
"""
