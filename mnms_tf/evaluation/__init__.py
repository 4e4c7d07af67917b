"""What trains a search's children: the Evaluator protocol and its implementations (in process,
worker processes, Ray actors, synthetic).
"""
