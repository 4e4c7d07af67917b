"""Whole experiments over many searches (the paper's reproduction, the suite, the peer
comparison) and the figures and reports they write.
"""
