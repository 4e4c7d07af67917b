"""What carries knowledge from earlier searches to a new one: the warm start, the value network
and the measures that judge them.
"""
