"""Tasks: tfds builders for the offline tasks and the suite, and the registry that names them
(gin user tasks too).
"""
