"""The tasks and embedding modules children train on, built offline from real data that
packages ship, and what describes a task (its features and similarity to others).
"""
