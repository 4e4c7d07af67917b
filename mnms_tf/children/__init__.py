"""One child: the search space it is drawn from, the trainer that builds and trains it, its
optimizer, and the result record it leaves.
"""
